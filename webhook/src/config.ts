// Pure. Command-line flags -> typed, zod-validated configuration, parsed once at start-up.
// parseWebhookArgs is also called by the Helm chart tests on the Deployment's args, so every
// error names the flag at fault. The option table drives parsing, --help and docs/webhook.md.
import { z } from 'zod';
import { parseOptions, UsageError, type OptionSpec, type OptionTable, type OptionValues } from '../../cli/options.js';
import { parseImageRef, type ImageRef } from './mutate/sidecar.js';
import { DEFAULT_BINDING_NAMES, DEFAULT_CONTROLLER_IDENTITY, DEFAULT_VOLUMES as V, SOCKET_DIRS_ENV, SOCKET_GROUP_ENV, socketDirProblem, socketGroupProblem } from './constants.js';
import { WebhookError } from './errors.js';
import type { VolumeSettings } from './mutate/volumes.js';
import { WEBHOOK_VERSION } from './version.js';

export type { OptionSpec };

/** Flags deciding which pods get which patch: shared by `webhook` and `mutate`. */
export const MUTATION_OPTIONS = {
  'controller-identity': { type: 'string', multiple: true, value: 'user', default: DEFAULT_CONTROLLER_IDENTITY, help: 'username KubeVirt creates launcher pods as (repeatable)' },
  'binding-name': { type: 'string', multiple: true, value: 'name', default: DEFAULT_BINDING_NAMES.join(','), help: 'network binding plugin name that means vhost-user (repeatable)' },
  'deny-forged': { type: 'boolean', help: 'deny (403) pods with the launcher label that KubeVirt did not create, instead of a warning' },
  'kube-ovn': { type: 'boolean', help: "read the NADs of launcher pods' vhost-user networks for Kube-OVN's: give them its vhostuser-sockets emptyDir, and the shared dir only where the userspace CNI needs it" },
  'shared-dir-volume': { type: 'string', value: 'name', default: V.sharedDirVolume, help: 'socket directory volume; the userspace CNI finds it by this name' },
  'shared-dir-mount-path': { type: 'string', value: 'path', default: V.sharedDirMountPath, help: 'where compute mounts the socket directory' },
  'ovs-run-dir-volume': { type: 'string', value: 'name', default: V.ovsRunDirVolume, help: 'OVS run directory volume name' },
  'ovs-run-dir-host-path': { type: 'string', value: 'path', default: V.ovsRunDirHostPath, help: "node directory holding OVS's database socket (hostPath type Directory)" },
  'ovs-run-dir-mount-path': { type: 'string', value: 'path', default: V.ovsRunDirMountPath, help: 'where compute mounts the OVS run directory' },
  'ovs-run-dir-writable': { type: 'boolean', help: "mount the OVS run directory read-write: lets QEMU replace OVS's sockets (see docs/threat-model.md)" },
  'podinfo-volume': { type: 'string', value: 'name', default: V.podinfoVolume, help: 'downward-API volume name (use podnetinfo next to network-resources-injector)' },
  'podinfo-mount-path': { type: 'string', value: 'path', default: V.podinfoMountPath, help: 'where the pod annotations are mounted' },
  'podinfo-in-sidecars': { type: 'string', value: 'true|false', default: 'true', help: 'also mount podinfo in binding sidecars of our binding names' },
  'sidecar-image': { type: 'string', multiple: true, value: 'ref', help: 'image our binding sidecar runs, as the KubeVirt CR registers it (repeatable): recognises the sidecar on KubeVirt < 1.9, which names no binding' },
  'sidecar-socket-dir': { type: 'string', multiple: true, value: 'dir', help: `directory our binding sidecar may take socket paths from besides the shared dir, set as ${SOCKET_DIRS_ENV} (repeatable)` },
  'sidecar-socket-group': {
    type: 'string',
    value: 'gid',
    help: `numeric group for a reduced-privilege OVS: our binding sidecar gives every socket QEMU binds to it, set as ${SOCKET_GROUP_ENV} and as the sidecar's runAsGroup`,
  },
} as const satisfies Record<string, OptionSpec>;

/** Flags of the HTTPS server only. */
export const SERVER_OPTIONS = {
  listen: { type: 'string', value: 'host:port', default: '0.0.0.0:8443', help: 'address to serve HTTPS on ([v6]:port for IPv6)' },
  'metrics-listen': { type: 'string', value: 'host:port', help: 'serve /metrics here (HTTPS, same certificate) instead of on --listen, so a NetworkPolicy can admit only scrapers to it' },
  'tls-cert': { type: 'string', value: 'file', help: 'PEM certificate (chain); reloaded when it changes' },
  'tls-key': { type: 'string', value: 'file', help: 'PEM private key matching --tls-cert' },
  'dev-cert': { type: 'boolean', help: 'serve a self-signed certificate for localhost (local use only)' },
  kubeconfig: { type: 'string', value: 'file', help: 'kubeconfig for API lookups (default: in-cluster, then ~/.kube/config)' },
  offline: { type: 'boolean', help: "no API access: decide from the pod's own evidence only" },
  'lookup-timeout-ms': { type: 'string', value: 'n', default: '2000', help: "budget for a request's API lookups; keep below the webhook timeoutSeconds" },
  'body-limit-bytes': { type: 'string', value: 'n', default: String(3 * 1024 * 1024), help: 'largest AdmissionReview accepted (413 above)' },
  'max-inflight-body-bytes': { type: 'string', value: 'n', default: String(16 * 1024 * 1024), help: 'request body bytes held at once, over all requests not answered yet (503 above)' },
  'max-nad-lookups': { type: 'string', value: 'n', default: '16', help: 'NetworkAttachmentDefinitions read for one request at most' },
  'log-level': { type: 'string', value: 'level', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
  'tls-poll-interval-ms': { type: 'string', value: 'n', default: '10000', help: 'how often to re-read the certificate files besides file events' },
  'drain-timeout-ms': { type: 'string', value: 'n', default: '20000', help: 'after SIGTERM, how long in-flight requests may take before exit' },
} as const satisfies Record<string, OptionSpec>;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface MutationConfig {
  readonly controllerIdentities: readonly string[];
  readonly bindingNames: readonly string[];
  readonly denyForged: boolean;
  /** --kube-ovn: Kube-OVN vhost-user NADs are looked for (admission/kube-ovn.ts). */
  readonly kubeOvn: boolean;
  readonly volumes: VolumeSettings;
  /** Our binding sidecar's allowed socket directories; none means no env var is set. */
  readonly sidecarSocketDirs: readonly string[];
  /** The socket group our binding sidecar gives QEMU's sockets to; none means nothing is set. */
  readonly sidecarSocketGroup?: number;
  /** Images our binding sidecar runs (recognition where KubeVirt names no binding). */
  readonly sidecarImages: readonly ImageRef[];
  /** This build's version (version.ts), named by the annotation and auditAnnotations of patched pods. */
  readonly version: string;
}

export type TlsSource = { readonly kind: 'files'; readonly certFile: string; readonly keyFile: string } | { readonly kind: 'dev' };

export interface WebhookConfig extends MutationConfig {
  readonly listen: { readonly host: string; readonly port: number };
  /** Where /metrics is served when not on `listen` (--metrics-listen). */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  readonly tls: TlsSource;
  readonly kubeconfig?: string;
  readonly offline: boolean;
  readonly lookupTimeoutMs: number;
  readonly bodyLimitBytes: number;
  readonly maxInflightBodyBytes: number;
  readonly maxNadLookups: number;
  readonly logLevel: LogLevel;
  readonly tlsPollIntervalMs: number;
  readonly drainTimeoutMs: number;
}

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a DNS-1123 label (a-z, 0-9, "-", at most 63)');
const absPath = z.string().regex(/^\/[^\0:]*$/, 'expected an absolute path').refine((p) => p.replaceAll('/', '') !== '', 'expected a directory below /');
// One entry of the sidecar's comma-separated socket directory list, by the converter's own rule.
const socketDir = z.string().superRefine((d, ctx) => {
  const problem = socketDirProblem(d);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(d)} ${problem}` });
});
const socketGroup = z
  .string()
  .superRefine((g, ctx) => {
    const problem = socketGroupProblem(g);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(g)} ${problem}` });
  })
  .transform(Number);
const nonEmpty = z.string().min(1, 'expected a non-empty value');
const bool = z.enum(['true', 'false'], 'expected true or false').transform((v) => v === 'true');
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, `expected an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `expected an integer from ${min} to ${max}`).max(max, `expected an integer from ${min} to ${max}`));
// host:port, [v6]:port, or a bare IPv6 host (the port follows the last colon, so ':::8443' works).
const listen = z.string().transform((s, ctx) => {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^[\]]+)):([0-9]{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (m === null || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port (or [v6]:port) with a port from 0 to 65535' });
    return z.NEVER;
  }
  return { host: m[1] ?? m[2] ?? '', port };
});

// An image reference as the KubeVirt CR's sidecarImage holds it, parsed once here.
const imageRef = z.string().transform((s, ctx) => {
  const ref = parseImageRef(s);
  if (ref === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an image reference ([registry/]path[:tag][@sha256:digest])` });
    return z.NEVER;
  }
  return ref;
});

const mutationSchema = {
  'controller-identity': z.array(nonEmpty).min(1),
  'binding-name': z.array(nonEmpty).min(1),
  'deny-forged': z.boolean(),
  'kube-ovn': z.boolean(),
  'shared-dir-volume': dnsLabel,
  'shared-dir-mount-path': absPath,
  'ovs-run-dir-volume': dnsLabel,
  'ovs-run-dir-host-path': absPath,
  'ovs-run-dir-mount-path': absPath,
  'ovs-run-dir-writable': z.boolean(),
  'podinfo-volume': dnsLabel,
  'podinfo-mount-path': absPath,
  'podinfo-in-sidecars': bool,
  'sidecar-socket-dir': z.array(socketDir).default([]),
  'sidecar-socket-group': socketGroup.optional(),
  'sidecar-image': z.array(imageRef).default([]),
};

const serverSchema = {
  listen,
  'metrics-listen': listen.optional(),
  'tls-cert': nonEmpty.optional(),
  'tls-key': nonEmpty.optional(),
  'dev-cert': z.boolean(),
  kubeconfig: nonEmpty.optional(),
  offline: z.boolean(),
  // The API server's webhook timeout is at most 30 s; a lookup must end before it.
  'lookup-timeout-ms': int(50, 29_000),
  'body-limit-bytes': int(1024, 64 * 1024 * 1024),
  'max-inflight-body-bytes': int(1024, 1024 * 1024 * 1024),
  'max-nad-lookups': int(0, 256),
  'log-level': z.enum(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`),
  'tls-poll-interval-ms': int(100, 3_600_000),
  'drain-timeout-ms': int(0, 600_000),
};

type Options = OptionTable;
type Values = OptionValues;

function configError(message: string): WebhookError {
  return new WebhookError('E_CONFIG_INVALID', message);
}

/** The option table parsed (cli/options.ts), a bad command line reported as E_CONFIG_INVALID. */
export function parseFlags(argv: readonly string[], options: Options): Values {
  try {
    return parseOptions(argv, options);
  } catch (err) {
    if (err instanceof UsageError) throw configError(err.message.replace(/ \(see --help\)$/, ''));
    throw err;
  }
}

/** Validates flag values with zod; the error names the flag and the value. */
export function validateFlags<S extends z.ZodRawShape>(shape: S, values: Values): z.infer<z.ZodObject<S>> {
  const parsed = z.object(shape).safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const flag = String(issue?.path[0] ?? '');
  throw configError(`--${flag}: ${issue?.message ?? 'invalid'} (got ${JSON.stringify(values[flag])})`);
}

function unique(pairs: readonly (readonly [string, string])[], what: string): void {
  const seen = new Map<string, string>();
  for (const [flag, value] of pairs) {
    const key = what === 'mount path' ? value.replace(/\/+$/, '') : value;
    const other = seen.get(key);
    if (other !== undefined) throw configError(`--${flag} and --${other} name the same ${what} ${JSON.stringify(value)}`);
    seen.set(key, flag);
  }
}

/** A directory as a prefix for "is inside" tests: `/a//./b` and `/a/b/` both give `/a/b/`. */
function dirPrefix(path: string): string {
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  return `/${segments.map((s) => `${s}/`).join('')}`;
}

/** The mutation settings from already-parsed flag values. */
export function toMutationConfig(values: Values): MutationConfig {
  const m = validateFlags(mutationSchema, values);
  unique([['shared-dir-volume', m['shared-dir-volume']], ['ovs-run-dir-volume', m['ovs-run-dir-volume']], ['podinfo-volume', m['podinfo-volume']]], 'volume');
  unique([['shared-dir-mount-path', m['shared-dir-mount-path']], ['ovs-run-dir-mount-path', m['ovs-run-dir-mount-path']], ['podinfo-mount-path', m['podinfo-mount-path']]], 'mount path');
  if (!m['ovs-run-dir-writable']) {
    // QEMU creates the vhost-user sockets, which it cannot do under a read-only mount: such a VM
    // would fail at start-up far from this setting.
    const ovs = dirPrefix(m['ovs-run-dir-mount-path']);
    const inside = m['sidecar-socket-dir'].find((d) => dirPrefix(d).startsWith(ovs));
    if (inside !== undefined) {
      throw configError(
        `--sidecar-socket-dir ${JSON.stringify(inside)} is inside --ovs-run-dir-mount-path ${JSON.stringify(m['ovs-run-dir-mount-path'])}, ` +
          'which compute mounts read-only, so QEMU could not create its sockets there; pick another directory or add --ovs-run-dir-writable (see docs/threat-model.md)',
      );
    }
  }
  return {
    controllerIdentities: [...new Set(m['controller-identity'])],
    bindingNames: [...new Set(m['binding-name'])],
    denyForged: m['deny-forged'],
    kubeOvn: m['kube-ovn'],
    volumes: {
      sharedDir: { name: m['shared-dir-volume'], mountPath: m['shared-dir-mount-path'] },
      ovsRunDir: {
        name: m['ovs-run-dir-volume'],
        hostPath: m['ovs-run-dir-host-path'],
        mountPath: m['ovs-run-dir-mount-path'],
        writable: m['ovs-run-dir-writable'],
      },
      podinfo: { name: m['podinfo-volume'], mountPath: m['podinfo-mount-path'], inSidecars: m['podinfo-in-sidecars'] },
    },
    sidecarSocketDirs: [...new Set(m['sidecar-socket-dir'])],
    ...(m['sidecar-socket-group'] === undefined ? {} : { sidecarSocketGroup: m['sidecar-socket-group'] }),
    sidecarImages: m['sidecar-image'],
    version: WEBHOOK_VERSION,
  };
}

/**
 * Parses the `webhook` command's flags. Throws E_CONFIG_INVALID naming the flag at fault.
 *
 * @example parseWebhookArgs(['--tls-cert', '/certs/tls.crt', '--tls-key', '/certs/tls.key']).listen.port // 8443
 */
export function parseWebhookArgs(argv: string[]): WebhookConfig {
  const values = parseFlags(argv, { ...MUTATION_OPTIONS, ...SERVER_OPTIONS });
  const mutation = toMutationConfig(values);
  const s = validateFlags(serverSchema, values);
  const cert = s['tls-cert'];
  const key = s['tls-key'];
  let tls: TlsSource;
  if (s['dev-cert']) {
    if (cert !== undefined || key !== undefined) throw configError('--dev-cert cannot be combined with --tls-cert/--tls-key');
    tls = { kind: 'dev' };
  } else if (cert !== undefined && key !== undefined) {
    tls = { kind: 'files', certFile: cert, keyFile: key };
  } else {
    const missing = cert === undefined ? (key === undefined ? '--tls-cert and --tls-key' : '--tls-cert') : '--tls-key';
    throw configError(`${missing} missing: serve with --tls-cert FILE --tls-key FILE, or --dev-cert for local use`);
  }
  if (s.offline && s.kubeconfig !== undefined) throw configError('--kubeconfig cannot be combined with --offline');
  const metricsListen = s['metrics-listen'];
  if (metricsListen !== undefined && metricsListen.port !== 0 && metricsListen.port === s.listen.port) {
    throw configError(`--metrics-listen port ${metricsListen.port} is the --listen port; pick another, or leave --metrics-listen out to serve /metrics there`);
  }
  // Otherwise a review of the largest accepted size could never be held, and would always get 503.
  if (s['max-inflight-body-bytes'] < s['body-limit-bytes']) {
    throw configError(`--max-inflight-body-bytes (${s['max-inflight-body-bytes']}) must be at least --body-limit-bytes (${s['body-limit-bytes']})`);
  }
  return {
    ...mutation,
    listen: s.listen,
    ...(metricsListen === undefined ? {} : { metricsListen }),
    tls,
    ...(s.kubeconfig === undefined ? {} : { kubeconfig: s.kubeconfig }),
    offline: s.offline,
    lookupTimeoutMs: s['lookup-timeout-ms'],
    bodyLimitBytes: s['body-limit-bytes'],
    maxInflightBodyBytes: s['max-inflight-body-bytes'],
    maxNadLookups: s['max-nad-lookups'],
    logLevel: s['log-level'],
    tlsPollIntervalMs: s['tls-poll-interval-ms'],
    drainTimeoutMs: s['drain-timeout-ms'],
  };
}

/** Help text for an option table, one line per flag. */
