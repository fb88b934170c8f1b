// Pure. Finds the pod interface (net1, pod16477688c0e, ...) that carries one VMI network: first
// from what the pod itself reports, then from KubeVirt's two naming schemes, keeping whichever
// one the pod's annotations actually contain (pods created before an upgrade keep ordinal names).

import { ConverterError } from '../errors.js';
import { isSameNad, parseNadName, formatNadRef, type NadRef } from './nad-name.js';
import type { NetworkStatusEntry } from './network-status.js';
import type { PodAnnotations } from './pod-annotations.js';

/** Where the pod interface name came from, for messages and tests. */
export type PodInterfaceSource = 'network-status' | 'networks' | 'vmi-status' | 'hashed-name' | 'ordinal-name';

export interface PodInterfaceMatch {
  readonly name: string;
  readonly source: PodInterfaceSource;
}

export interface PodInterfaceQuery {
  /** VMI interface name, for messages. */
  readonly iface: string;
  /** VMI network name. */
  readonly network: string;
  readonly nad: NadRef;
  /** Default namespace for bare NAD names in the annotations. */
  readonly namespace?: string;
  /** VMI status.interfaces[].podInterfaceName for this interface, when reported. */
  readonly statusName?: string;
  readonly hashed?: string;
  readonly ordinal?: string;
}

/** One attachment a pod annotation lists: the NAD as parsed, and the pod interface if named. */
interface Attachment {
  readonly nad: NadRef;
  readonly interface: string | undefined;
}

/**
 * A pod's attachments parsed once and grouped by NAD name, so resolving n interfaces reads each
 * annotation entry once instead of n times (the lookups stay linear in the interface count).
 */
export interface PodInterfaceIndex {
  readonly status: ReadonlyMap<string, readonly Attachment[]>;
  readonly networks: ReadonlyMap<string, readonly Attachment[]>;
  /** network-status entries by pod interface name, the first of each name. */
  readonly statusByInterface: ReadonlyMap<string, NetworkStatusEntry>;
  /** Every pod interface name the annotations mention. */
  readonly present: ReadonlySet<string>;
}

function groupByName(attachments: readonly Attachment[]): Map<string, Attachment[]> {
  const groups = new Map<string, Attachment[]>();
  for (const a of attachments) {
    const group = groups.get(a.nad.name);
    if (group === undefined) groups.set(a.nad.name, [a]);
    else group.push(a);
  }
  return groups;
}

/** Builds the index of a pod's annotations; `namespace` completes bare NAD names. */
export function indexPodInterfaces(pod: PodAnnotations, namespace?: string): PodInterfaceIndex {
  const entries = pod.networkStatus ?? [];
  const statusByInterface = new Map<string, NetworkStatusEntry>();
  for (const e of entries) if (e.interface !== undefined && !statusByInterface.has(e.interface)) statusByInterface.set(e.interface, e);
  return {
    status: groupByName(entries.map((e) => ({ nad: parseNadName(e.name, namespace), interface: e.interface }))),
    networks: groupByName((pod.networks ?? []).map((s) => ({ nad: parseNadName(s.name, s.namespace ?? namespace), interface: s.interface }))),
    statusByInterface,
    present: podInterfaceNamesIn(pod),
  };
}

function attachedTo(groups: ReadonlyMap<string, readonly Attachment[]>, nad: NadRef): (string | undefined)[] {
  return (groups.get(nad.name) ?? []).filter((a) => isSameNad(a.nad, nad)).map((a) => a.interface);
}

/**
 * @param index the pod's index from indexPodInterfaces (built here when not given); its
 *   namespace must be `q.namespace`.
 * @returns the match, or undefined when the annotations do not name it yet (wait and retry).
 * @throws ConverterError E_POD_INTERFACE_NOT_FOUND when several attachments of the same NAD exist
 *   and none of them carries a name KubeVirt would have given this network.
 */
export function findPodInterface(
  pod: PodAnnotations,
  q: PodInterfaceQuery,
  index: PodInterfaceIndex = indexPodInterfaces(pod, q.namespace),
): PodInterfaceMatch | undefined {
  // Names KubeVirt may have used, most specific first; they break ties between attachments of one NAD.
  const known = [q.statusName, q.hashed, q.ordinal].filter((n): n is string => n !== undefined && n !== '');
  const fromStatus = pickAmong(q, 'network-status', attachedTo(index.status, q.nad), known);
  if (fromStatus !== undefined) return fromStatus;
  const fromNetworks = pickAmong(q, 'networks', attachedTo(index.networks, q.nad), known);
  if (fromNetworks !== undefined) return fromNetworks;
  if (q.statusName !== undefined && q.statusName !== '') return { name: q.statusName, source: 'vmi-status' };
  if (q.hashed !== undefined && index.present.has(q.hashed)) return { name: q.hashed, source: 'hashed-name' };
  if (q.ordinal !== undefined && index.present.has(q.ordinal)) return { name: q.ordinal, source: 'ordinal-name' };
  return undefined;
}

function pickAmong(
  q: PodInterfaceQuery,
  source: PodInterfaceSource,
  names: readonly (string | undefined)[],
  known: readonly string[],
): PodInterfaceMatch | undefined {
  const candidates = [...new Set(names.filter((n): n is string => n !== undefined && n !== ''))];
  if (candidates.length === 0) return undefined;
  if (candidates.length === 1 && candidates[0] !== undefined) return { name: candidates[0], source };
  const chosen = known.find((k) => candidates.includes(k));
  if (chosen !== undefined) return { name: chosen, source };
  throw new ConverterError(
    'E_POD_INTERFACE_NOT_FOUND',
    `interface '${q.iface}': ${source} lists ${candidates.length} attachments of NAD ${formatNadRef(q.nad)} (${candidates.join(', ')}) and none is named ${known.join(' or ') || 'as KubeVirt names it'}`,
    { iface: q.iface, hint: 'give each VMI network its own NAD, or report status.interfaces[].podInterfaceName' },
  );
}

/** Every pod interface name the annotations mention. */
export function podInterfaceNamesIn(pod: PodAnnotations): Set<string> {
  const names = new Set<string>();
  for (const e of pod.networkStatus ?? []) if (e.interface !== undefined) names.add(e.interface);
  for (const s of pod.networks ?? []) if (s.interface !== undefined) names.add(s.interface);
  for (const c of pod.configurationData ?? []) names.add(c.ifName);
  return names;
}

/** The network-status entry of a pod interface: by interface name, else the only entry of the NAD. */
export function findStatusEntry(
  pod: PodAnnotations,
  podInterface: string,
  nad: NadRef,
  namespace?: string,
  index: PodInterfaceIndex = indexPodInterfaces(pod, namespace),
): NetworkStatusEntry | undefined {
  const byName = index.statusByInterface.get(podInterface);
  if (byName !== undefined) return byName;
  const entries = pod.networkStatus ?? [];
  const ofNad = entries.filter((e) => e.interface === undefined && isSameNad(parseNadName(e.name, namespace), nad));
  return ofNad.length === 1 ? ofNad[0] : undefined;
}
