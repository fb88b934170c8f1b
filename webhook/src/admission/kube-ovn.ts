// Kube-OVN vhost-user NADs (kubeovn/kube-ovn v1.16.2 pkg/netconf/netconf.go, pkg/daemon/handler.go):
// which of a VMI's vhost-user networks are Kube-OVN's, read from their NADs, so that the pod gets
// the emptyDir Kube-OVN's daemon needs at CNI ADD and our sidecar learns where the socket is.
// Kube-OVN writes nothing about the socket on the pod, and a VMI owner writes no NAD.
import { isVhostUserInterface, KUBE_OVN_CONSUMPTION_KUBEVIRT, KUBE_OVN_SOCKETS_VOLUME, KubeOvnNetworkSchema, parseNadName, type KubeOvnNetwork } from '../../../converter/src/shared.js';
import { WebhookError } from '../errors.js';
import { withDeadline, type KubeObject, type Lookups } from '../k8s/sources.js';
import { record } from '../mutate/volumes.js';
import { DEFAULT_MAX_NAD_LOOKUPS, nadCniConfigs } from './evidence.js';

/** The kube-ovn CNI config of a NAD (alone or in a `plugins` list), if it has one. */
function kubeOvnConfig(nad: KubeObject): Record<string, unknown> | undefined {
  return nadCniConfigs(nad).map(record).find((c) => c?.['type'] === 'kube-ovn');
}

/**
 * The NAD as a Kube-OVN vhost-user network, undefined when it is none (no kube-ovn config, or
 * neither a socket volume nor kubevirt consumption: a kernel NIC), or a WebhookError when its
 * volume or socket name cannot be used.
 */
export function kubeOvnNetworkOf(nad: KubeObject, ref: string): KubeOvnNetwork | WebhookError | undefined {
  const conf = kubeOvnConfig(nad);
  if (conf === undefined) return undefined;
  const text = (key: string): string | undefined => (typeof conf[key] === 'string' && conf[key] !== '' ? conf[key] : undefined);
  const kubevirt = text('vhost_user_socket_consumption') === KUBE_OVN_CONSUMPTION_KUBEVIRT;
  // handler.go: kubevirt consumption forces the volume name; otherwise a volume name makes it DPDK.
  const volume = kubevirt ? KUBE_OVN_SOCKETS_VOLUME : text('vhost_user_socket_volume_name');
  if (volume === undefined) return undefined;
  const socket = kubevirt ? undefined : text('vhost_user_socket_name');
  const provider = text('provider');
  const parsed = KubeOvnNetworkSchema.safeParse({ nad: ref, volume, ...(socket !== undefined ? { socket } : {}), ...(provider !== undefined ? { provider } : {}) });
  if (!parsed.success || (!kubevirt && socket === undefined)) {
    const why = parsed.success ? 'has vhost_user_socket_volume_name but no vhost_user_socket_name' : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    return new WebhookError('E_NAD_UNSUPPORTED', `NetworkAttachmentDefinition ${ref}: Kube-OVN vhost-user config ${why}`, { nad: ref });
  }
  return parsed.data;
}

export interface VhostUserNetworks {
  /** The Kube-OVN vhost-user networks, in the VMI's order. */
  readonly kubeOvn: readonly KubeOvnNetwork[];
  /** Some vhost-user Multus network is not Kube-OVN's (the userspace CNI, or a NAD left unread): it needs the shared dir. */
  readonly needsSharedDir: boolean;
  /** Some vhost-user network is on Multus at all: the converter reads the pod's annotations. */
  readonly multus: boolean;
}

export interface NadReadContext {
  readonly bindingNames: readonly string[];
  readonly lookups: Lookups;
  readonly lookupTimeoutMs: number;
  readonly maxNadLookups?: number;
}

/**
 * Reads the NADs of the VMI's vhost-user Multus networks (at most --max-nad-lookups, within one
 * deadline) and sorts them. NADs left unread or not found count as needing the shared dir, as
 * before this source existed.
 *
 * @returns E_NAD_UNSUPPORTED for a Kube-OVN vhost-user NAD whose names cannot be used (a denial).
 * @throws WebhookError for a lookup error (E_LOOKUP_TIMEOUT / E_LOOKUP_FAILED).
 */
export async function readVhostUserNetworks(vmi: KubeObject, namespace: string, ctx: NadReadContext): Promise<VhostUserNetworks | WebhookError> {
  const spec = record(vmi['spec']);
  const ifaces = record(record(spec?.['domain'])?.['devices'])?.['interfaces'];
  const networks = (Array.isArray(spec?.['networks']) ? (spec['networks'] as unknown[]) : []).map(record);
  const refs: { namespace: string; name: string }[] = [];
  for (const iface of Array.isArray(ifaces) ? ifaces : []) {
    if (!isVhostUserInterface(iface, ctx.bindingNames)) continue;
    const nadName = record(networks.find((n) => n?.['name'] === record(iface)?.['name'])?.['multus'])?.['networkName'];
    if (typeof nadName !== 'string') continue;
    const ref = parseNadName(nadName, namespace);
    if (ref.namespace !== undefined && !refs.some((r) => r.namespace === ref.namespace && r.name === ref.name)) refs.push({ namespace: ref.namespace, name: ref.name });
  }
  const nadSource = ctx.lookups.nad;
  if (refs.length === 0 || nadSource === undefined) return { kubeOvn: [], needsSharedDir: refs.length > 0, multus: refs.length > 0 };
  const looked = refs.slice(0, ctx.maxNadLookups ?? DEFAULT_MAX_NAD_LOOKUPS);
  const ms = ctx.lookupTimeoutMs;
  const signal = AbortSignal.timeout(ms);
  const nads = await Promise.all(looked.map((n) => withDeadline(nadSource.getNad(n.namespace, n.name, { signal }), signal, `NetworkAttachmentDefinition ${n.namespace}/${n.name}`, ms)));
  const kubeOvn: KubeOvnNetwork[] = [];
  let needsSharedDir = looked.length < refs.length;
  for (const [i, ref] of looked.entries()) {
    const nad = nads[i];
    const network = nad === undefined ? undefined : kubeOvnNetworkOf(nad, `${ref.namespace}/${ref.name}`);
    if (network instanceof WebhookError) return network;
    if (network !== undefined) kubeOvn.push(network);
    else needsSharedDir = true;
  }
  return { kubeOvn, needsSharedDir, multus: true };
}
