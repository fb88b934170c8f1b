// Pure. The Kube-OVN source (kubeovn/kube-ovn v1.16.2 pkg/daemon/handler.go, handler_linux.go
// createShortSharedDir, ovs_linux.go configureDpdkNic): a NAD of `"type": "kube-ovn"` with
// `vhost_user_socket_volume_name` or `vhost_user_socket_consumption: kubevirt` makes the daemon add
// a `dpdkvhostuserclient` port whose socket lies in the pod's emptyDir of that volume (forced to
// `vhostuser-sockets` for kubevirt consumption): `<dir>/<pod interface>` for kubevirt consumption,
// else `<dir>/<vhost_user_socket_name>`. Kube-OVN writes nothing about it on the pod, so the
// webhook, which reads the NAD, tells our sidecar (KUBE_OVN_NETWORKS_ENV); the MAC is in
// `<provider>.kubernetes.io/mac_address` or network-status.

import { posix } from 'node:path';
import { z } from 'zod';
import { KUBE_OVN_NETWORKS_ENV, KUBE_OVN_SOCKETS_ROOT, KUBE_OVN_SOCKETS_VOLUME } from './contract.js';
import { ConverterError } from './errors.js';
import { describeZodError } from './annotations/json.js';

/** Kube-OVN's value of vhost_user_socket_consumption that names the socket after the pod interface. */
export const KUBE_OVN_CONSUMPTION_KUBEVIRT = 'kubevirt';

// Volume names are DNS labels; socket and interface names one path component that is no OVS
// control file and cannot climb.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const FILE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,64}$/;

export const KubeOvnNetworkSchema = z
  .object({
    /** The NAD, `namespace/name`. */
    nad: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be namespace/name'),
    /** The emptyDir Kube-OVN uses (vhostuser-sockets for kubevirt consumption). */
    volume: z.string().regex(DNS_LABEL, 'must be a DNS label').default(KUBE_OVN_SOCKETS_VOLUME),
    /** vhost_user_socket_name; absent for kubevirt consumption, where the pod interface names it. */
    socket: z.string().regex(FILE_NAME, 'must be one file name').optional(),
    /** The NAD's provider, which prefixes Kube-OVN's pod annotations. */
    provider: z.string().regex(/^[A-Za-z0-9._-]{1,253}$/, 'must be a provider name').optional(),
  })
  .strict();

export type KubeOvnNetwork = z.output<typeof KubeOvnNetworkSchema>;

/** Where the webhook mounts a Kube-OVN socket volume (contract.ts KUBE_OVN_SOCKETS_ROOT). */
export function kubeOvnSocketDir(volume: string): string {
  return `${KUBE_OVN_SOCKETS_ROOT}${volume}/`;
}

/** Kube-OVN's annotation with the MAC it assigned for a provider (pkg/util/const.go MacAddressAnnotationTemplate). */
export function kubeOvnMacAnnotation(provider: string): string {
  return `${provider}.kubernetes.io/mac_address`;
}

/**
 * The socket file name in the volume: the NAD's socket name, else (kubevirt consumption) the pod
 * interface, which must then be one file name.
 *
 * @throws ConverterError E_SOCKET_PATH when the pod interface cannot be a file name.
 */
export function kubeOvnSocketName(network: KubeOvnNetwork, podIface: string, iface: string): string {
  if (network.socket !== undefined) return network.socket;
  if (!FILE_NAME.test(podIface)) {
    throw new ConverterError('E_SOCKET_PATH', `interface '${iface}': Kube-OVN NAD ${network.nad}: pod interface ${JSON.stringify(podIface)} cannot name a socket file`, {
      iface,
      hint: 'KubeVirt names pod interfaces pod<hash> or netN',
    });
  }
  return podIface;
}

/** The socket path of a Kube-OVN network as our containers see it. */
export function kubeOvnSocketPath(network: KubeOvnNetwork, podIface: string, iface: string): string {
  return posix.join(kubeOvnSocketDir(network.volume), kubeOvnSocketName(network, podIface, iface));
}

/**
 * The value of KUBE_OVN_NETWORKS_ENV: a JSON array of networks.
 *
 * @throws ConverterError E_CONFIG naming the env var.
 */
export function parseKubeOvnNetworks(text: string): KubeOvnNetwork[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConverterError('E_CONFIG', `${KUBE_OVN_NETWORKS_ENV}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const result = z.array(KubeOvnNetworkSchema).safeParse(raw);
  if (!result.success) throw new ConverterError('E_CONFIG', `${KUBE_OVN_NETWORKS_ENV}: ${describeZodError(result.error)}`);
  return result.data;
}
