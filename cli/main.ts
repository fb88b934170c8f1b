// The `kubevirt-vhostuser` command: dispatches to a subcommand, each loaded only when used so
// that `convert` never pays for fastify or @kubernetes/client-node at start-up.

export interface Subcommand {
  readonly summary: string;
  /** Runs the subcommand; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

type Loader = () => Promise<Subcommand>;

const subcommands: Record<string, Loader> = {
  convert: async () => (await import('../converter/src/cli.js')).convertCommand,
  webhook: async () => (await import('../webhook/src/cli.js')).webhookCommand,
  mutate: async () => (await import('../webhook/src/cli.js')).mutateCommand,
  'hook-sidecar': async () => (await import('../sidecar/src/cli.js')).hookSidecarCommand,
};

const summaries: Record<string, string> = {
  convert: 'write libvirt vhost-user interfaces from /etc/podnetinfo annotations and a VMI',
  webhook: 'serve the mutating admission webhook over HTTPS',
  mutate: 'print the JSON patch the webhook would return for a pod, offline',
  'hook-sidecar': 'serve the KubeVirt hook sidecar (network binding plugin) on a unix socket',
};

export function usage(): string {
  const width = Math.max(...Object.keys(summaries).map((k) => k.length));
  const lines = Object.entries(summaries).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`);
  return [
    'Usage: kubevirt-vhostuser <command> [options]',
    '',
    'DPDK vhost-user networking for KubeVirt VMs on an unmodified cluster.',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'kubevirt-vhostuser <command> --help' for the options of a command.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = subcommands[name];
  if (load === undefined) {
    process.stderr.write(`error: unknown command '${name}'; expected one of: ${Object.keys(subcommands).join(', ')}\n`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (err) {
    // Subcommands report their own errors; this is the last line of defence against a stack trace.
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
