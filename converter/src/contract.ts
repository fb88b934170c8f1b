// Pure. The names and paths the webhook, the converter and the hook sidecar must agree on, in one
// place: what the webhook mounts and sets is what the sidecar reads.

/** Binding plugin names treated as vhost-user when none are configured. */
export const DEFAULT_BINDING_NAMES: readonly string[] = ['vhostuser'];

/**
 * Where the webhook mounts the `shared-dir` volume (in compute and our sidecar) and where the
 * userspace CNI then puts the sockets: the socket directory (seed 002).
 */
export const SHARED_DIR = '/var/lib/cni/usrcni/';
/** The userspace CNI finds the socket directory by this exact volume name. */
export const SHARED_DIR_VOLUME = 'shared-dir';
/** Where the webhook mounts the pod's downward-API annotations (KubeVirt owns /etc/podinfo). */
export const PODINFO_DIR = '/etc/podnetinfo';
/**
 * KubeVirt >= 1.3 mounts this file (the `kubevirt.io/network-info` annotation, raw JSON) into
 * compute and the sidecars only for a binding with `downwardAPI: device-info`.
 */
export const NETWORK_INFO_FILE = '/etc/podinfo/network-info';

/**
 * KEP-5304: where the kubelet mounts the DRA device metadata of a claim into each container that
 * requests it: `<root>/resourceclaims/<claim>/<request>/<driver>-metadata.json` for a
 * ResourceClaim, `<root>/resourceclaimtemplates/<pod claim>/<request>/...` for a template's.
 */
export const DRA_METADATA_ROOT = '/var/run/kubernetes.io/dra-device-attributes';
/** The OVS-DPDK DRA driver (k8snetworkplumbingwg/dra-driver-ovsdpdk), the official plugin's source. */
export const OVSDPDK_DRA_DRIVER = 'ovsdpdk.k8snetworkplumbingwg.io';
/**
 * Where that driver bind-mounts each claim's socket directory into the pod (its default
 * `containerRootPath`): the only directory a socket from its metadata may lie in by default.
 */
export const OVSDPDK_SOCKET_DIR = '/var/run/ovsdpdk/';

/**
 * Kube-OVN (kubeovn/kube-ovn pkg/util/const.go VhostUserSocketVolumeName): the emptyDir a pod of a
 * NAD with `vhost_user_socket_consumption: kubevirt` must have at CNI ADD, by exactly this name.
 */
export const KUBE_OVN_SOCKETS_VOLUME = 'vhostuser-sockets';
/**
 * Where the webhook mounts a Kube-OVN socket volume, in compute and our sidecar: `<root><volume>/`.
 * Kube-OVN bind-mounts the same emptyDir at /run/openvswitch/vhost_sockets/<pod uid>/<volume>,
 * where OVS connects.
 */
export const KUBE_OVN_SOCKETS_ROOT = '/var/lib/kube-ovn/';
/**
 * Env var the webhook sets on our sidecar: the pod's Kube-OVN vhost-user networks, read from their
 * NADs, as JSON (converter/src/kube-ovn.ts). A VMI owner writes no NAD and no sidecar env.
 */
export const KUBE_OVN_NETWORKS_ENV = 'KUBEVIRT_VHOSTUSER_KUBE_OVN';

/**
 * How long the converter waits for the CNI's annotations to reach the downward-API file, in
 * `convert`, the sidecar and the library alike: within virt-launcher's one-minute hook deadline.
 */
export const DEFAULT_WAIT_SECONDS = 45;

/** Env var virt-controller (>= 1.9.0) sets on a binding plugin's sidecar: the binding's name. */
export const BINDING_NAME_ENV = 'NETWORK_BINDING_PLUGIN_NAME';
/**
 * Env var the webhook sets on our sidecar (KubeVirt starts it without arguments): more
 * directories socket paths may lie in, comma-separated.
 */
export const SOCKET_DIRS_ENV = 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS';
/**
 * Env var the webhook sets on our sidecar for a reduced-privilege OVS: the numeric group that
 * every socket QEMU binds in the shared dir is given to (with group read/write), so that an OVS
 * running as a non-root user in that group can connect. The webhook also makes it the sidecar's
 * primary group (runAsGroup): only a member may give a file to a group.
 */
export const SOCKET_GROUP_ENV = 'KUBEVIRT_VHOSTUSER_SOCKET_GROUP';

/**
 * Why `value` cannot be the socket group, or undefined when it can: a decimal group ID from 1 to
 * 4294967294. Names are refused: a container's /etc/group is not the node's. 0 is refused: the
 * root group is nobody's reduced privilege.
 */
export function socketGroupProblem(value: string): string | undefined {
  if (!/^[0-9]+$/.test(value)) return 'is not a numeric group ID (names are not resolved: the container\'s /etc/group is not the node\'s)';
  const gid = Number(value);
  if (gid === 0) return 'is the root group, which would share the sockets with every root-group process';
  if (gid > 4_294_967_294) return 'is above 4294967294, the largest group ID';
  return undefined;
}

/**
 * Why `dir` cannot be an allowed socket directory, or undefined when it can: absolute, not `/`
 * (which would allow any path), no `..` (which would widen it), no control characters or commas
 * (which would break the comma-separated list).
 */
export function socketDirProblem(dir: string): string | undefined {
  if (!dir.startsWith('/')) return 'is not an absolute path';
  if (dir.replaceAll('/', '') === '') return 'is the root directory, which would allow any socket path';
  if (dir.split('/').includes('..')) return "contains a '..' segment";
  if (/\p{Cc}/u.test(dir)) return 'contains a control character';
  if (dir.includes(',')) return `contains ',', which separates the entries of ${SOCKET_DIRS_ENV}`;
  return undefined;
}
