// Pure. Names and limits of KubeVirt's hook sidecar protocol (KubeVirt pkg/hooks/hooks.go,
// pkg/hooks/info/info.go, pkg/hooks/manager.go) and this sidecar's defaults.
import { DEFAULT_BINDING_NAMES } from '../../converter/src/index.js';

/**
 * virt-launcher scans `<dir>/<container>/*` for sockets; each sidecar container mounts its own
 * sub-directory of a shared emptyDir here (KubeVirt mounts it with `subPath: <container name>`).
 */
export const HOOK_SOCKET_DIR = '/var/run/kubevirt-hooks';
/** Our socket's file name; KubeVirt's own binding sidecar uses `passt.sock` the same way. */
export const DEFAULT_SOCKET_NAME = 'vhostuser.sock';
/** Binding name assumed when the env var is absent (e.g. sidecar requested by annotation). */
export const DEFAULT_BINDING_NAME = DEFAULT_BINDING_NAMES[0] as string;
/** Reported by Info; virt-launcher only logs it. */
export const SIDECAR_NAME = 'kubevirt-vhostuser';

/** Callbacks versions we serve, newest first; virt-launcher picks the newest it knows. */
export const HOOK_VERSIONS = ['v1alpha3', 'v1alpha2', 'v1alpha1'] as const;
export type HookVersion = (typeof HOOK_VERSIONS)[number];

export const HookPointName = {
  OnDefineDomain: 'OnDefineDomain',
  PreCloudInitIso: 'PreCloudInitIso',
  Shutdown: 'Shutdown',
} as const;
export type HookPointName = (typeof HookPointName)[keyof typeof HookPointName];

/**
 * We subscribe to Shutdown too: virt-launcher calls it once QEMU has exited, and only
 * subscribers get it. Without it the sidecar would keep the finished pod running.
 */
export const SUBSCRIBED_HOOK_POINTS: readonly { name: HookPointName; priority: number }[] = [
  { name: HookPointName.OnDefineDomain, priority: 0 },
  { name: HookPointName.Shutdown, priority: 0 },
];

/** virt-launcher gives every OnDefineDomain call a one-minute deadline (KubeVirt v1.9.0, pkg/hooks/manager.go, onDefineDomainCallback: context.WithTimeout(..., time.Minute)). */
export const KUBEVIRT_CALL_TIMEOUT_SECONDS = 60;
/** Kept free before the caller's deadline so that our error, not a timeout, reaches KubeVirt. */
export const DEADLINE_MARGIN_MS = 2_000;
/** `sun_path` is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
/** How long Shutdown and signals wait for in-flight calls before cancelling them. */
export const DRAIN_TIMEOUT_MS = 5_000;
