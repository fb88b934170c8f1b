// The `webhook` and `mutate` subcommands: flags in, exit code out. Errors become one `error:`
// line on stderr. Heavy modules (fastify, zod, prom-client) load only inside run().
import { enableCompileCache } from 'node:module';
import type { Subcommand } from '../../cli/main.js';

function fail(err: unknown, code = 1): number {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return code;
}

async function usage(command: 'webhook' | 'mutate'): Promise<string> {
  const { MUTATION_OPTIONS, SERVER_OPTIONS, describeOptions } = await import('./config.js');
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
  ].join('\n');
}

/** Prints the usage when asked for (`--help`, `-h`); says whether it did. */
async function printedHelp(argv: readonly string[], command: 'webhook' | 'mutate'): Promise<boolean> {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  process.stdout.write(await usage(command));
  return true;
}

export const webhookCommand: Subcommand = {
  summary: 'serve the mutating admission webhook over HTTPS',
  async run(argv) {
    if (await printedHelp(argv, 'webhook')) return 0;
    // V8 code cache for the modules loaded next (zod, fastify, prom-client): restarts reach
    // /readyz sooner. Best effort: an unwritable cache directory just means no cache.
    enableCompileCache();
    const { parseWebhookArgs } = await import('./config.js');
    let config;
    try {
      config = parseWebhookArgs(argv);
    } catch (err) {
      return fail(err, 2);
    }
    try {
      const { runWebhook } = await import('./main.js');
      return await runWebhook(config);
    } catch (err) {
      return fail(err);
    }
  },
};

export const mutateCommand: Subcommand = {
  summary: 'print the JSON patch the webhook would return for a pod, offline',
  async run(argv) {
    if (await printedHelp(argv, 'mutate')) return 0;
    const { runMutate } = await import('./mutate-cli.js');
    try {
      const { stdout, stderr, code } = await runMutate(argv);
      if (stderr !== '') process.stderr.write(stderr);
      if (stdout !== '') process.stdout.write(stdout);
      return code;
    } catch (err) {
      return fail(err, (err as { code?: unknown }).code === 'E_CONFIG_INVALID' ? 2 : 1);
    }
  },
};
