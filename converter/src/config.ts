// Pure. The converter's settings: a zod schema with defaults, parsed once from a partial object
// (API callers) or from CLI flags. Out-of-range values fail with E_CONFIG naming the setting.

import { z } from 'zod';
import { DEFAULT_BINDING_NAMES, DEFAULT_WAIT_SECONDS, DRA_METADATA_ROOT, OVSDPDK_DRA_DRIVER, OVSDPDK_SOCKET_DIR, SHARED_DIR, socketDirProblem } from './contract.js';
import { ConverterError } from './errors.js';
import type { LibvirtSourceMode } from './model.js';
import { describeZodError } from './annotations/json.js';
import { KubeOvnNetworkSchema } from './kube-ovn.js';

/** The socket directory: where the webhook mounts the `shared-dir` volume. */
export const DEFAULT_SOCKET_DIR = SHARED_DIR;
export const DEFAULT_QUEUE_SIZE = 1024;
export const DEFAULT_WAIT_MS = DEFAULT_WAIT_SECONDS * 1000;
export const DEFAULT_POLL_MS = 500;

const LibvirtMode = z.enum(['server', 'client']);

// An allowed socket directory (contract.ts says which are refused and why).
const SocketDir = z.string().superRefine((d, ctx) => {
  const problem = socketDirProblem(d);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Maps a vhost-user mode as an annotation states it (the container side, device-info-spec
 * 3.1.5.1: `server` = the pod creates the socket) to libvirt's `<source mode>` (`server` = QEMU
 * creates the socket). The default is the identity, which is what the spec means; CNIs that
 * report the host side instead can be served by swapping the two.
 */
const ModeMapSchema = z
  .object({
    server: LibvirtMode.default('server'),
    client: LibvirtMode.default('client'),
  })
  .strict();

const QueueSize = z
  .number()
  .int()
  .refine((n) => n >= 256 && n <= 1024 && (n & (n - 1)) === 0, { message: 'must be a power of two in [256, 1024]' });

export const ConverterConfigSchema = z
  .object({
    /** `binding: {name}` values treated as vhost-user (besides `vhostuser: {}`). */
    bindingNames: z.array(z.string().min(1)).min(1).default([...DEFAULT_BINDING_NAMES]),
    /** Socket directory inside the pod, used when `userspace/mapped-dir` is absent; always allowed. */
    socketDir: SocketDir.default(DEFAULT_SOCKET_DIR),
    /** More directories a socket path may lie in, besides `socketDir`. */
    allowedSocketDirs: z.array(SocketDir).default([]),
    /**
     * KubeVirt itself writes `kubevirt.io/network-info` (the binding has `downwardAPI: device-info`),
     * so it outranks the CNIs' annotations; otherwise it ranks last.
     */
    kubevirtNetworkInfo: z.boolean().default(false),
    /**
     * QEMU uses the stable `vu-<hash>` name for sockets in the shared dir, joined to the CNI's
     * name by a symlink, so that the path in the domain holds in every pod of the VMI (live
     * migration). Off: QEMU uses the CNI's path as it is (VMs that never migrate).
     */
    stableSocketPaths: z.boolean().default(true),
    /** Annotation mode -> libvirt mode, per source: device-info and userspace configuration-data. */
    modeMap: z
      .object({
        deviceInfo: ModeMapSchema.prefault({}),
        configurationData: ModeMapSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * DRA networks (KubeVirt >= 1.9): where the kubelet mounts the device metadata, the drivers
     * whose metadata carries a vhost-user socket, and the directories such a socket may lie in.
     * Those directories hold only for sockets read from that metadata, never for annotations.
     */
    dra: z
      .object({
        metadataRoot: SocketDir.default(DRA_METADATA_ROOT),
        drivers: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS subdomain')).min(1).default([OVSDPDK_DRA_DRIVER]),
        socketDirs: z.array(SocketDir).min(1).default([OVSDPDK_SOCKET_DIR]),
      })
      .strict()
      .prefault({}),
    /**
     * The pod's Kube-OVN vhost-user networks, as the webhook read them from their NADs
     * (KUBE_OVN_NETWORKS_ENV): their sockets lie in the Kube-OVN volume's mount, and only there.
     */
    kubeOvn: z.array(KubeOvnNetworkSchema).default([]),
    rxQueueSize: QueueSize.default(DEFAULT_QUEUE_SIZE),
    txQueueSize: QueueSize.default(DEFAULT_QUEUE_SIZE),
    /** How long to wait for the CNI annotations to appear. */
    waitMs: z.number().int().min(0).default(DEFAULT_WAIT_MS),
    /** Re-read interval while waiting, in case directory events are missed. */
    pollMs: z.number().int().min(10).default(DEFAULT_POLL_MS),
    /** Namespace for bare NAD names when the VMI has none. */
    namespace: z.string().min(1).optional(),
  })
  .strict();

export type ConverterConfig = z.output<typeof ConverterConfigSchema>;
export type ConverterConfigInput = z.input<typeof ConverterConfigSchema>;
export type ModeMap = Readonly<Record<'server' | 'client', LibvirtSourceMode>>;

/**
 * Fills defaults and checks ranges.
 *
 * @throws ConverterError E_CONFIG, e.g. `invalid converter settings: rxQueueSize: must be a power of two in [256, 1024]`.
 * @example parseConverterConfig({ socketDir: '/run/vhost/' }).rxQueueSize // 1024
 */
export function parseConverterConfig(input: unknown = {}): ConverterConfig {
  const result = ConverterConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ConverterError('E_CONFIG', `invalid converter settings: ${describeZodError(result.error)}`, {
      hint: 'see docs/converter.md for the settings and their ranges',
    });
  }
  return result.data;
}
