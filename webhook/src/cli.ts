// The `webhook` and `mutate` subcommands: flags in, exit code out. Errors become one `error:`
// line on stderr. Heavy modules (fastify, zod, prom-client) load only inside run().
import { enableCompileCache } from 'node:module';
import { describeOptions, EXIT_CODES_HELP } from '../../cli/options.js';
import { EXIT, reportError, type Subcommand } from '../../cli/subcommand.js';


async function usage(command: 'webhook' | 'mutate'): Promise<string> {
  const { MUTATION_OPTIONS, SERVER_OPTIONS } = await import('./config.js');
  const { MUTATE_OPTIONS } = await import('./mutate-cli.js');
  if (command === 'webhook') {
    return [
      'Usage: kubevirt-vhostuser webhook (--tls-cert FILE --tls-key FILE | --dev-cert) [options]',
      '',
      'Serves the mutating admission webhook (POST /mutate, /healthz, /readyz, /metrics) over HTTPS.',
      '',
      'Server options:',
      describeOptions(SERVER_OPTIONS),
      '',
      'Mutation options:',
      describeOptions(MUTATION_OPTIONS),
      '',
      EXIT_CODES_HELP,
      '',
    ].join('\n');
  }
  return [
    'Usage: kubevirt-vhostuser mutate --pod FILE [--vmi FILE] [--user NAME] [--apply] [options]',
    '',
    'Prints the JSON patch the webhook would return for a pod (offline), or the patched pod with --apply.',
    '',
    'Options:',
    describeOptions(MUTATE_OPTIONS),
    describeOptions(MUTATION_OPTIONS),
    '',
    EXIT_CODES_HELP,
    '',
  ].join('\n');
}

/** Prints the usage when asked for (`--help`, `-h`); says whether it did. */
async function printedHelp(argv: readonly string[], command: 'webhook' | 'mutate'): Promise<boolean> {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  process.stdout.write(await usage(command));
  return true;
}

export const webhookCommand: Subcommand = {
  async run(argv: string[]) {
    if (await printedHelp(argv, 'webhook')) return EXIT.ok;
    // V8 code cache for the modules loaded next (zod, fastify, prom-client): restarts reach
    // /readyz sooner. Best effort: an unwritable cache directory just means no cache.
    enableCompileCache();
    const { parseWebhookArgs } = await import('./config.js');
    let config;
    try {
      config = parseWebhookArgs(argv);
    } catch (err) {
      return reportError(err);
    }
    try {
      const { runWebhook } = await import('./main.js');
      return await runWebhook(config);
    } catch (err) {
      return reportError(err);
    }
  },
};

export const mutateCommand: Subcommand = {
  async run(argv: string[]) {
    if (await printedHelp(argv, 'mutate')) return EXIT.ok;
    const { runMutate } = await import('./mutate-cli.js');
    try {
      const { stdout, stderr, code } = await runMutate(argv);
      if (stderr !== '') process.stderr.write(stderr);
      if (stdout !== '') process.stdout.write(stdout);
      return code;
    } catch (err) {
      return reportError(err);
    }
  },
};
