// The `kubevirt-vhostuser` command: dispatches to a subcommand, each loaded only when used so
// that `convert` never pays for fastify or @kubernetes/client-node at start-up.
import { EXIT_CODES_HELP } from './options.js';
import { packageVersion } from './package.js';
import { EXIT, reportError, type Subcommand } from './subcommand.js';

interface Entry {
  readonly summary: string;
  load(): Promise<Subcommand>;
}

const subcommands: Record<string, Entry> = {
  convert: { summary: 'write libvirt vhost-user interfaces from /etc/podnetinfo annotations and a VMI', load: async () => (await import('../converter/src/cli.js')).convertCommand },
  interfaces: { summary: "list a pod's vhost-user interfaces (socket, mode, MAC, DPDK --vdev) from /etc/podnetinfo, no VMI needed", load: async () => (await import('../converter/src/interfaces-cli.js')).interfacesCommand },
  webhook: { summary: 'serve the mutating admission webhook over HTTPS', load: async () => (await import('../webhook/src/cli.js')).webhookCommand },
  mutate: { summary: 'print the JSON patch the webhook would return for a pod, offline', load: async () => (await import('../webhook/src/cli.js')).mutateCommand },
  doctor: { summary: "report the pod's podinfo files, each interface's socket and its peers, and which check failed (run in the sidecar container)", load: async () => (await import('./doctor.js')).doctorCommand },
  'hook-sidecar': { summary: 'serve the KubeVirt hook sidecar (network binding plugin) on a unix socket', load: async () => (await import('../sidecar/src/cli.js')).hookSidecarCommand },
};

export function usage(): string {
  const width = Math.max(...Object.keys(subcommands).map((k) => k.length));
  const lines = Object.entries(subcommands).map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`);
  return [
    'Usage: kubevirt-vhostuser <command> [options]',
    '       kubevirt-vhostuser --version',
    '',
    'DPDK vhost-user networking for KubeVirt VMs on an unmodified cluster.',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'kubevirt-vhostuser <command> --help' for the options of a command.",
    EXIT_CODES_HELP,
  ].join('\n');
}

/** `kubevirt-vhostuser <version>`, read from the package this file ships in. */
export function versionLine(): string {
  return `kubevirt-vhostuser ${packageVersion()}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${versionLine()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(`${usage()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = subcommands[name];
  if (entry === undefined) {
    process.stderr.write(`error: E_USAGE: unknown command '${name}'; expected one of: ${Object.keys(subcommands).join(', ')}\n`);
    return EXIT.usage;
  }
  if (rest.includes('--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return EXIT.ok;
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (err) {
    // Subcommands report their own errors; this is the last line of defence against a stack trace.
    return reportError(err);
  }
}
