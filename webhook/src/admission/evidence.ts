// Does a genuine launcher pod need vhost-user? Pure checks of the pod, its VMI and its
// NetworkAttachmentDefinitions; the VMI and NADs come through the injected sources, bounded by
// one deadline per request. Cheap evidence first, so most pods never wait on a lookup.
import { parseNetworksAnnotation, type NetworkSelection } from '../../../converter/src/annotations/networks.js';
import { isVhostUserInterface } from '../../../converter/src/binding.js';
import { MULTUS_NETWORKS_ANNOTATION } from '../constants.js';
import { bindingPluginName } from '../mutate/plan.js';
import { record } from '../mutate/volumes.js';
import { withDeadline, type KubeObject, type Lookups } from '../k8s/sources.js';
import type { OwnerReference, Pod } from './review.js';

export interface EvidenceContext {
  readonly bindingNames: readonly string[];
  readonly lookups: Lookups;
  readonly lookupTimeoutMs: number;
}

export interface NetworkRef {
  readonly namespace: string;
  readonly name: string;
}

// NAD and namespace names (DNS-1123 subdomain characters): anything else cannot be looked up.
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A container env NETWORK_BINDING_PLUGIN_NAME naming one of our bindings. */
export function bindingSidecarEvidence(pod: Pod, bindingNames: readonly string[]): string | undefined {
  for (const c of pod.spec.containers) {
    const name = bindingPluginName(c);
    if (name !== undefined && bindingNames.includes(name)) {
      return `container "${c.name}" serves binding "${name}"`;
    }
  }
  return undefined;
}

/** The first VMI interface that asks for vhost-user, in either API dialect. */
export function vhostUserInterfaceName(vmi: KubeObject, bindingNames: readonly string[]): string | undefined {
  const interfaces = record(record(record(vmi['spec'])?.['domain'])?.['devices'])?.['interfaces'];
  if (!Array.isArray(interfaces)) return undefined;
  for (const iface of interfaces) {
    if (isVhostUserInterface(iface, bindingNames)) {
      const name = record(iface)?.['name'];
      return typeof name === 'string' ? name : '';
    }
  }
  return undefined;
}

/**
 * The NADs named by `k8s.v1.cni.cncf.io/networks`, read with the converter's parser so that both
 * agree on the format. An unreadable annotation gives no NADs: Multus would reject the pod anyway.
 */
export function parseMultusNetworks(value: string | undefined, podNamespace: string): NetworkRef[] {
  if (value === undefined) return [];
  let selections: NetworkSelection[];
  try {
    selections = parseNetworksAnnotation(value);
  } catch {
    return [];
  }
  const seen = new Set<string>();
  const refs: NetworkRef[] = [];
  for (const s of selections) {
    const ref = { namespace: s.namespace ?? podNamespace, name: s.name };
    const key = `${ref.namespace}/${ref.name}`;
    if (!K8S_NAME.test(ref.name) || !K8S_NAME.test(ref.namespace) || seen.has(key)) continue;
    seen.add(key);
    refs.push(ref);
  }
  return refs;
}

/** A userspace-CNI config (alone or in a `plugins` list) with a vhostuser interface on either side. */
export function isVhostUserNad(nad: KubeObject): boolean {
  const config = record(nad['spec'])?.['config'];
  if (typeof config !== 'string') return false;
  let conf: unknown;
  try {
    conf = JSON.parse(config);
  } catch {
    return false;
  }
  const plugins = record(conf)?.['plugins'];
  const candidates = Array.isArray(plugins) ? [conf, ...plugins] : [conf];
  return candidates.some((c) => {
    const rec = record(c);
    if (rec?.['type'] !== 'userspace') return false;
    return record(rec['host'])?.['iftype'] === 'vhostuser' || record(rec['container'])?.['iftype'] === 'vhostuser';
  });
}

/**
 * Why the pod needs vhost-user, or `undefined` when nothing says so. Rejects with
 * E_LOOKUP_TIMEOUT / E_LOOKUP_FAILED when a lookup does not answer in time or fails.
 */
export async function findVhostUserEvidence(
  pod: Pod,
  namespace: string,
  owner: OwnerReference,
  ctx: EvidenceContext,
): Promise<string | undefined> {
  const fromPod = bindingSidecarEvidence(pod, ctx.bindingNames);
  if (fromPod !== undefined) return fromPod;
  const { vmi: vmiSource, nad: nadSource } = ctx.lookups;
  if (vmiSource === undefined && nadSource === undefined) return undefined;

  const ms = ctx.lookupTimeoutMs;
  const signal = AbortSignal.timeout(ms);
  if (vmiSource !== undefined) {
    const what = `VirtualMachineInstance ${namespace}/${owner.name}`;
    const vmi = await withDeadline(vmiSource.getVmi(namespace, owner.name, owner.uid, { signal }), signal, what, ms);
    const iface = vmi === undefined ? undefined : vhostUserInterfaceName(vmi, ctx.bindingNames);
    if (iface !== undefined) return `${what} interface "${iface}" is vhost-user`;
  }
  if (nadSource === undefined) return undefined;
  const networks = parseMultusNetworks(pod.metadata?.annotations?.[MULTUS_NETWORKS_ANNOTATION], namespace);
  if (networks.length === 0) return undefined;
  const nads = await Promise.all(
    networks.map((n) => {
      const what = `NetworkAttachmentDefinition ${n.namespace}/${n.name}`;
      return withDeadline(nadSource.getNad(n.namespace, n.name, { signal }), signal, what, ms);
    }),
  );
  const i = nads.findIndex((nad) => nad !== undefined && isVhostUserNad(nad));
  const hit = networks[i];
  return hit === undefined ? undefined : `NetworkAttachmentDefinition ${hit.namespace}/${hit.name} is a userspace vhostuser network`;
}
