// The `kubevirt-vhostuser hook-sidecar` command: reads flags and env, serves the hook protocol
// until virt-launcher calls Shutdown or a signal arrives, then exits 0 with the socket removed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CONVERTER_FLAGS, converterFlags } from '../../cli/converter-flags.js';
import { HELP_OPTION, parseOptions, usageText, UsageError } from '../../cli/options.js';
import { EXIT, reportError, type Subcommand } from '../../cli/subcommand.js';
import {
  BINDING_NAME_ENV,
  ConverterError,
  KUBE_OVN_NETWORKS_ENV,
  NETWORK_INFO_FILE,
  parseKubeOvnNetworks,
  PODINFO_DIR,
  SOCKET_DIRS_ENV,
  SOCKET_GROUP_ENV,
  SocketSharing,
  socketDirProblem,
  socketGroupProblem,
  type KubeOvnNetwork,
} from '../../converter/src/index.js';
import { DEFAULT_SOCKET_NAME, HOOK_SOCKET_DIR, KUBEVIRT_CALL_TIMEOUT_SECONDS } from './constants.js';
import { createLogger } from './log.js';
import { converterRewrite } from './rewrite.js';
import { startSidecar, type RunningSidecar } from './sidecar.js';

const OPTIONS = {
  socket: { type: 'string', value: 'path', default: join(HOOK_SOCKET_DIR, DEFAULT_SOCKET_NAME), help: 'unix socket to serve on' },
  podinfo: {
    type: 'string',
    value: 'path',
    default: PODINFO_DIR,
    help: `downward-API directory with the pod's annotations (the webhook's mount); ${NETWORK_INFO_FILE} when only that exists`,
  },
  ...CONVERTER_FLAGS,
  'network-info': { type: 'string', value: 'file', default: NETWORK_INFO_FILE, help: 'KubeVirt\'s network-info file; when it exists, KubeVirt writes kubevirt.io/network-info' },
  'socket-group': {
    type: 'string',
    value: 'gid',
    help: `numeric group to give every socket QEMU binds (group read/write), for an OVS running as a non-root user in it; ${SOCKET_GROUP_ENV} (set by the webhook) when not given`,
  },
  ...HELP_OPTION,
} as const;

const USAGE = usageText(
  'hook-sidecar [options]',
  `Serves the KubeVirt hook sidecar of the vhost-user network binding plugin: on OnDefineDomain, adds
an <interface type='vhostuser'> per vhost-user VMI interface to the libvirt domain and makes the
socket links. KubeVirt starts it without arguments; ${BINDING_NAME_ENV} (KubeVirt >= 1.9) adds the
binding it serves to --binding-name, ${SOCKET_DIRS_ENV} (set by the webhook) adds a comma list
to --allow-socket-dir, ${SOCKET_GROUP_ENV} sets --socket-group, and ${KUBE_OVN_NETWORKS_ENV} (set by the
webhook from the NADs) names the pod's Kube-OVN vhost-user networks. --wait is at most ${KUBEVIRT_CALL_TIMEOUT_SECONDS}: virt-launcher abandons a call after a minute.`,
  [['Options', OPTIONS]],
);

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'] as const;

export const hookSidecarCommand: Subcommand = {
  async run(argv: string[]): Promise<number> {
    let flags;
    try {
      flags = parseFlags(argv);
    } catch (err) {
      return reportError(err);
    }
    if (flags === 'help') {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    const log = createLogger();
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
        { socketPath: flags.socket, waitMs: flags.waitMs, bindingNames: flags.bindingNames },
        {
          log,
          rewrite: converterRewrite(flags.podinfo, {
            allowedSocketDirs: flags.allowedSocketDirs,
            networkInfoFile: flags.networkInfo,
            stableSocketPaths: flags.stableSocketPaths,
            kubeOvn: flags.kubeOvn,
            ...(flags.socketGroup === undefined ? {} : { socketGroup: new SocketSharing(flags.socketGroup, log) }),
          }),
        },
      );
      if (early !== undefined) void sidecar.stop(early);
      await sidecar.stopped;
    } catch (err) {
      return reportError(err);
    } finally {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    }
    return EXIT.ok;
  },
};

interface Flags {
  readonly socket: string;
  readonly podinfo: string;
  readonly waitMs: number;
  readonly bindingNames: string[];
  readonly allowedSocketDirs: string[];
  readonly stableSocketPaths: boolean;
  readonly networkInfo: string;
  readonly socketGroup?: number;
  /** The pod's Kube-OVN vhost-user networks, from the webhook's env. */
  readonly kubeOvn: KubeOvnNetwork[];
}

/** The flags and the env KubeVirt and the webhook set, checked so that a bad value stops the sidecar at start, not every VM at its first call. */
function parseFlags(argv: string[]): Flags | 'help' {
  const values = parseOptions(argv, OPTIONS);
  if (values['help'] === true) return 'help';
  const shared = converterFlags(values, KUBEVIRT_CALL_TIMEOUT_SECONDS);
  const fromEnv = (process.env[SOCKET_DIRS_ENV] ?? '').split(',').map((d) => d.trim()).filter((d) => d !== '');
  for (const dir of fromEnv) {
    const problem = socketDirProblem(dir);
    if (problem !== undefined) throw new UsageError(`${SOCKET_DIRS_ENV} ${JSON.stringify(dir)} ${problem}`);
  }
  const group = socketGroup(values['socket-group']);
  const served = process.env[BINDING_NAME_ENV]?.trim();
  const podinfoGiven = argv.some((a) => a === '--podinfo' || a.startsWith('--podinfo='));
  const podinfo = String(values['podinfo']);
  return {
    socket: String(values['socket']),
    // Without the webhook's podinfo mount, KubeVirt's own network-info file is the only input left.
    podinfo: !podinfoGiven && !existsSync(podinfo) && existsSync(NETWORK_INFO_FILE) ? NETWORK_INFO_FILE : podinfo,
    waitMs: shared.waitMs,
    bindingNames: [...new Set([...(served ? [served] : []), ...shared.bindingNames])],
    allowedSocketDirs: [...fromEnv, ...shared.allowedSocketDirs],
    stableSocketPaths: shared.stableSocketPaths,
    networkInfo: String(values['network-info']),
    ...(group === undefined ? {} : { socketGroup: group }),
    kubeOvn: kubeOvnNetworks(),
  };
}

/** The webhook's KUBE_OVN_NETWORKS_ENV; absent or empty is none. A bad value stops the sidecar at start. */
function kubeOvnNetworks(): KubeOvnNetwork[] {
  const text = process.env[KUBE_OVN_NETWORKS_ENV]?.trim() ?? '';
  if (text === '') return [];
  try {
    return parseKubeOvnNetworks(text);
  } catch (err) {
    throw err instanceof ConverterError ? new UsageError(err.message) : err;
  }
}

/** --socket-group, else the webhook's env; an empty env is no group. */
function socketGroup(flag: unknown): number | undefined {
  const [value, from] = typeof flag === 'string' ? [flag, '--socket-group'] : [process.env[SOCKET_GROUP_ENV]?.trim() ?? '', SOCKET_GROUP_ENV];
  if (value === '' && from === SOCKET_GROUP_ENV) return undefined;
  const problem = socketGroupProblem(value);
  if (problem !== undefined) throw new UsageError(`${from} ${JSON.stringify(value)} ${problem}`);
  return Number(value);
}
