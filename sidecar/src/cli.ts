// The `kubevirt-vhostuser hook-sidecar` command: reads flags and env, serves the hook protocol
// until virt-launcher calls Shutdown or a signal arrives, then exits 0 with the socket removed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Subcommand } from '../../cli/main.js';
import { BINDING_NAME_ENV, NETWORK_INFO_FILE, PODINFO_DIR as DEFAULT_PODINFO_DIR, SOCKET_DIRS_ENV, socketDirProblem } from '../../converter/src/index.js';
import { DEFAULT_BINDING_NAME, DEFAULT_SOCKET_NAME, DEFAULT_WAIT_SECONDS, HOOK_SOCKET_DIR, KUBEVIRT_CALL_TIMEOUT_SECONDS } from './constants.js';
import { jsonLogger } from './log.js';
import { converterRewrite } from './rewrite.js';
import { startSidecar, type RunningSidecar } from './sidecar.js';

const usage = `Usage: kubevirt-vhostuser hook-sidecar [options]

Serve the KubeVirt hook sidecar of the vhost-user network binding plugin: on OnDefineDomain,
add an <interface type='vhostuser'> per vhost-user VMI interface to the libvirt domain.

Options:
  --socket <path>        unix socket to serve on (default: ${HOOK_SOCKET_DIR}/${DEFAULT_SOCKET_NAME})
  --podinfo <path>       downward-API directory with the pod's annotations, or KubeVirt's
                         network-info file (default: ${DEFAULT_PODINFO_DIR}, else
                         ${NETWORK_INFO_FILE} when only that exists)
  --wait <seconds>       how long to wait for CNI annotations per call, 0-${KUBEVIRT_CALL_TIMEOUT_SECONDS} (default: ${DEFAULT_WAIT_SECONDS})
  --binding-name <name>  also serve this binding plugin name (repeatable); the env var
                         ${BINDING_NAME_ENV} names the main one (default: ${DEFAULT_BINDING_NAME})
  --allow-socket-dir <dir>
                         another directory socket paths may lie in, besides the shared-dir
                         mount (repeatable); the env var ${SOCKET_DIRS_ENV} adds a comma list
  --network-info <file>  KubeVirt's network-info file; when it exists, KubeVirt writes
                         kubevirt.io/network-info (default: ${NETWORK_INFO_FILE})
  -h, --help             show this help
`;

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const;

export const hookSidecarCommand: Subcommand = {
  summary: 'serve the KubeVirt hook sidecar (network binding plugin) on a unix socket',
  async run(argv: string[]): Promise<number> {
    let flags;
    try {
      flags = parseFlags(argv);
    } catch (err) {
      return fail(err, 2);
    }
    if (flags === 'help') {
      process.stdout.write(usage);
      return 0;
    }
    const log = jsonLogger({ write: (line) => process.stderr.write(line) });
    // Handlers go in before the socket exists: a signal during start-up must not kill the
    // process with the socket left behind.
    let sidecar: RunningSidecar | undefined;
    let early: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (sidecar === undefined) early ??= signal;
      else void sidecar.stop(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
    try {
      sidecar = await startSidecar(
        { socketPath: flags.socket, waitMs: Math.round(flags.waitSeconds * 1000), bindingNames: flags.bindingNames },
        { log, rewrite: converterRewrite(flags.podinfo, { allowedSocketDirs: flags.allowedSocketDirs, networkInfoFile: flags.networkInfo }) },
      );
      if (early !== undefined) void sidecar.stop(early);
      await sidecar.stopped;
    } catch (err) {
      return fail(err, 1);
    } finally {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    }
    return 0;
  },
};

interface Flags {
  socket: string;
  podinfo: string;
  waitSeconds: number;
  bindingNames: string[];
  allowedSocketDirs: string[];
  networkInfo: string;
}

function parseFlags(argv: string[]): Flags | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      socket: { type: 'string' },
      podinfo: { type: 'string' },
      wait: { type: 'string' },
      'binding-name': { type: 'string', multiple: true },
      'allow-socket-dir': { type: 'string', multiple: true },
      'network-info': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const waitSeconds = values.wait === undefined ? DEFAULT_WAIT_SECONDS : Number(values.wait);
  // virt-launcher abandons a call after a minute; a longer wait could never be used.
  if (values.wait?.trim() === '' || !Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > KUBEVIRT_CALL_TIMEOUT_SECONDS) {
    throw new Error(`--wait '${values.wait}' must be a number of seconds from 0 to ${KUBEVIRT_CALL_TIMEOUT_SECONDS}`);
  }
  const main = process.env[BINDING_NAME_ENV]?.trim() || DEFAULT_BINDING_NAME;
  const extras = values['binding-name'] ?? [];
  const empty = extras.find((n) => n.trim() === '');
  if (empty !== undefined) throw new Error('--binding-name must not be empty');
  // Checked here so that a bad list stops the sidecar at start, not every VM at its first call.
  const fromEnv = (process.env[SOCKET_DIRS_ENV] ?? '').split(',').map((d) => d.trim()).filter((d) => d !== '');
  for (const [where, dirs] of [[SOCKET_DIRS_ENV, fromEnv], ['--allow-socket-dir', values['allow-socket-dir'] ?? []]] as const) {
    for (const dir of dirs) {
      const problem = socketDirProblem(dir);
      if (problem !== undefined) throw new Error(`${where} ${JSON.stringify(dir)} ${problem}`);
    }
  }
  const allowedSocketDirs = [...fromEnv, ...(values['allow-socket-dir'] ?? [])];
  return {
    allowedSocketDirs,
    networkInfo: values['network-info'] ?? NETWORK_INFO_FILE,
    socket: values.socket ?? join(HOOK_SOCKET_DIR, DEFAULT_SOCKET_NAME),
    // Without the webhook's podinfo mount, KubeVirt's own network-info file is the only input left.
    podinfo: values.podinfo ?? (!existsSync(DEFAULT_PODINFO_DIR) && existsSync(NETWORK_INFO_FILE) ? NETWORK_INFO_FILE : DEFAULT_PODINFO_DIR),
    waitSeconds,
    bindingNames: [...new Set([main, ...extras])],
  };
}

function fail(err: unknown, code: number): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message.replaceAll('\n', ' ')}\n`);
  return code;
}
