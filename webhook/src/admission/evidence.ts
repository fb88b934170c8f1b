// Does a genuine launcher pod need vhost-user? Pure checks of the pod, its VMI and its
// NetworkAttachmentDefinitions; the VMI and NADs come through the injected sources, bounded by
// one deadline per request. Cheap evidence first, so most pods never wait on a lookup.
//
// Which NADs may be read is decided by the VMI alone, never by the pod: the VMI owner writes the
// pod's `k8s.v1.cni.cncf.io/networks` annotation (KubeVirt copies VMI annotations), so a list
// taken from there would let them make the webhook read any number of NADs, in any namespace.
import { isVhostUserInterface, parseNadName } from '../../../converter/src/shared.js';
import { ourSidecarReason, type SidecarRecognition } from '../mutate/sidecar.js';
import { record } from '../mutate/volumes.js';
import { withDeadline, type KubeObject, type Lookups } from '../k8s/sources.js';
import type { OwnerReference, Pod } from './review.js';

/** NAD reads one request may make when --max-nad-lookups is not given. */
export const DEFAULT_MAX_NAD_LOOKUPS = 16;

export interface EvidenceContext {
  readonly bindingNames: readonly string[];
  /** Images our binding sidecar runs (mutate/sidecar.ts). */
  readonly sidecarImages?: SidecarRecognition['sidecarImages'];
  readonly lookups: Lookups;
  readonly lookupTimeoutMs: number;
  /** At most this many NADs are read per request (--max-nad-lookups); DEFAULT_MAX_NAD_LOOKUPS when absent. */
  readonly maxNadLookups?: number;
}

export interface NetworkRef {
  readonly namespace: string;
  readonly name: string;
}

/** What the checks found: the evidence, or none and perhaps a warning saying what was left unread. */
export interface EvidenceResult {
  readonly evidence: string | undefined;
  readonly warning?: string;
  /** How many candidate NADs --max-nad-lookups left unread (with the warning). */
  readonly nadsUnread?: number;
}

// NAD names are DNS-1123 subdomains, namespaces DNS-1123 labels: anything else cannot be read.
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const K8S_NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * KubeVirt's core interface bindings (v1 InterfaceBindingMethod) that are never vhost-user: an
 * interface bound by one of them cannot need a userspace NAD, whatever the NAD says.
 */
export const NON_VHOSTUSER_BINDINGS: readonly string[] = ['bridge', 'masquerade', 'sriov', 'slirp', 'macvtap', 'passt'];

/**
 * How a VMI interface is bound: `vhostuser` (our dialect or one of our binding names), `other`
 * (a core binding, or a binding plugin that is not ours), or `unrecognised` (no binding this code
 * knows, e.g. a fork's own field): only the last may still be vhost-user through its NAD.
 */
export type InterfaceShape = 'vhostuser' | 'other' | 'unrecognised';

export function interfaceShape(iface: unknown, bindingNames: readonly string[]): InterfaceShape {
  if (isVhostUserInterface(iface, bindingNames)) return 'vhostuser';
  const rec = record(iface);
  if (rec === undefined) return 'other';
  if (record(rec['binding']) !== undefined) return 'other';
  return NON_VHOSTUSER_BINDINGS.some((b) => record(rec[b]) !== undefined) ? 'other' : 'unrecognised';
}

/** `state: absent` marks an interface being hot-unplugged: KubeVirt attaches no network for it. */
function isAbsent(iface: Record<string, unknown>): boolean {
  return iface['state'] === 'absent';
}

function vmiInterfaces(vmi: KubeObject): readonly unknown[] {
  const interfaces = record(record(record(vmi['spec'])?.['domain'])?.['devices'])?.['interfaces'];
  return Array.isArray(interfaces) ? interfaces : [];
}

/** Our binding sidecar in the pod (mutate/sidecar.ts), which KubeVirt adds only for our binding. */
export function bindingSidecarEvidence(pod: Pod, recognition: SidecarRecognition): string | undefined {
  for (const c of pod.spec.containers) {
    const reason = ourSidecarReason(c, recognition);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** The first VMI interface that asks for vhost-user, in either API dialect (absent ones do not count). */
export function vhostUserInterfaceName(vmi: KubeObject, bindingNames: readonly string[]): string | undefined {
  for (const iface of vmiInterfaces(vmi)) {
    const rec = record(iface);
    // isVhostUserInterface is the converter's rule, `state: absent` included.
    if (rec === undefined || !isVhostUserInterface(rec, bindingNames)) continue;
    const name = rec['name'];
    return typeof name === 'string' ? name : '';
  }
  return undefined;
}

/**
 * The NADs worth reading for a VMI: those its Multus networks name (`name` in the VMI's namespace,
 * or `namespace/name` spelled out) when the network's interface has a binding this code does not
 * recognise and is not being unplugged. Interfaces of our own dialect or binding are settled by
 * the VMI already, and core or foreign bindings are never vhost-user, so neither needs a NAD.
 * Deduplicated, in the VMI's order; names that cannot be Kubernetes names are left out.
 */
export function candidateNads(vmi: KubeObject, namespace: string, bindingNames: readonly string[]): NetworkRef[] {
  const networks = record(vmi['spec'])?.['networks'];
  if (!Array.isArray(networks)) return [];
  const shapes = new Map<string, InterfaceShape>();
  for (const iface of vmiInterfaces(vmi)) {
    const rec = record(iface);
    const name = rec?.['name'];
    if (rec === undefined || typeof name !== 'string' || shapes.has(name)) continue;
    shapes.set(name, isAbsent(rec) ? 'other' : interfaceShape(rec, bindingNames));
  }
  const seen = new Set<string>();
  const refs: NetworkRef[] = [];
  for (const network of networks) {
    const net = record(network);
    const name = net?.['name'];
    const nadName = record(net?.['multus'])?.['networkName'];
    if (typeof name !== 'string' || typeof nadName !== 'string') continue;
    if (shapes.get(name) !== 'unrecognised') continue;
    const ref = parseNadName(nadName, namespace);
    if (ref.namespace === undefined || !K8S_NAME.test(ref.name) || !K8S_NAMESPACE.test(ref.namespace)) continue;
    const key = `${ref.namespace}/${ref.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    refs.push({ namespace: ref.namespace, name: ref.name });
  }
  return refs;
}

/** The CNI configs of a NAD: its `spec.config`, and each entry of its `plugins` list; none when it is not JSON. */
export function nadCniConfigs(nad: KubeObject): unknown[] {
  const config = record(nad['spec'])?.['config'];
  if (typeof config !== 'string') return [];
  let conf: unknown;
  try {
    conf = JSON.parse(config);
  } catch {
    return [];
  }
  const plugins = record(conf)?.['plugins'];
  return Array.isArray(plugins) ? [conf, ...plugins] : [conf];
}

/** A userspace-CNI config (alone or in a `plugins` list) with a vhostuser interface on either side. */
export function isVhostUserNad(nad: KubeObject): boolean {
  return nadCniConfigs(nad).some((c) => {
    const rec = record(c);
    if (rec?.['type'] !== 'userspace') return false;
    return record(rec['host'])?.['iftype'] === 'vhostuser' || record(rec['container'])?.['iftype'] === 'vhostuser';
  });
}

const NONE: EvidenceResult = { evidence: undefined };

/**
 * Why the pod needs vhost-user, or no evidence (with a warning when NADs were left unread).
 * Rejects with E_LOOKUP_TIMEOUT / E_LOOKUP_FAILED when a lookup does not answer in time or fails.
 */
export async function findVhostUserEvidence(
  pod: Pod,
  namespace: string,
  owner: OwnerReference,
  ctx: EvidenceContext,
): Promise<EvidenceResult> {
  const fromPod = bindingSidecarEvidence(pod, { bindingNames: ctx.bindingNames, sidecarImages: ctx.sidecarImages ?? [] });
  if (fromPod !== undefined) return { evidence: fromPod };
  const { vmi: vmiSource, nad: nadSource } = ctx.lookups;
  // Without its VMI nothing says which NADs matter, and the pod's own list is the VMI owner's word.
  if (vmiSource === undefined) return NONE;

  const ms = ctx.lookupTimeoutMs;
  const signal = AbortSignal.timeout(ms);
  const what = `VirtualMachineInstance ${namespace}/${owner.name}`;
  const vmi = await withDeadline(vmiSource.getVmi(namespace, owner.name, owner.uid, { signal }), signal, what, ms);
  if (vmi === undefined) return NONE;
  const iface = vhostUserInterfaceName(vmi, ctx.bindingNames);
  if (iface !== undefined) return { evidence: `${what} interface "${iface}" is vhost-user` };
  if (nadSource === undefined) return NONE;

  const candidates = candidateNads(vmi, namespace, ctx.bindingNames);
  if (candidates.length === 0) return NONE;
  const max = ctx.maxNadLookups ?? DEFAULT_MAX_NAD_LOOKUPS;
  const looked = candidates.slice(0, max);
  // One read per distinct NAD (candidateNads deduplicates), all within the one deadline.
  const nads = await Promise.all(
    looked.map((n) => {
      const nadWhat = `NetworkAttachmentDefinition ${n.namespace}/${n.name}`;
      return withDeadline(nadSource.getNad(n.namespace, n.name, { signal }), signal, nadWhat, ms);
    }),
  );
  const hit = looked[nads.findIndex((nad) => nad !== undefined && isVhostUserNad(nad))];
  if (hit !== undefined) return { evidence: `NetworkAttachmentDefinition ${hit.namespace}/${hit.name} is a userspace vhostuser network` };
  const skipped = candidates.length - looked.length;
  if (skipped === 0) return NONE;
  const first = candidates[looked.length] as NetworkRef;
  return {
    evidence: undefined,
    nadsUnread: skipped,
    warning:
      `kubevirt-vhostuser: ${what} names ${candidates.length} NetworkAttachmentDefinitions; read the first ${looked.length} ` +
      `(--max-nad-lookups) and left ${skipped} unread, from ${first.namespace}/${first.name} on; no vhost-user volumes added`,
  };
}
