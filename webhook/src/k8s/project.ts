// Pure. What the caches keep of a VMI or a NAD: only the fields the admission decision reads,
// each bounded in size. A VMI may carry megabytes the webhook never needs (cloud-init user data
// with secrets, annotations, status), and every VMI in the cluster sits in the cache: whole
// objects would put the webhook's memory in the hands of every VMI owner, and its secrets in
// every heap dump. The same projection applies to list items, watch events and direct reads.
import type { KeepSpec } from './list-stream.js';
import type { KubeObject } from './sources.js';

/** Longest name, namespace, uid or resourceVersion kept (a DNS-1123 subdomain has 253). */
const MAX_NAME = 253;
/** Longest `multus.networkName` kept: `namespace/name`. */
const MAX_NETWORK_NAME = 63 + 1 + MAX_NAME;
/** Interfaces and networks kept per VMI: far more than a VM can have PCI slots for. */
export const MAX_DEVICES = 256;
/**
 * A NAD's `spec.config` longer than this (UTF-8 bytes) is not cached: its entry is marked
 * partial and a lookup reads the NAD directly. CNI configs are a few hundred bytes; 64 KiB
 * leaves room for long plugin chains while bounding what one NAD can make the cache hold.
 */
export const MAX_NAD_CONFIG_BYTES = 64 * 1024;

/** KubeVirt's interface binding fields; only their presence matters, never their content. */
const BINDING_FIELDS = ['bridge', 'masquerade', 'sriov', 'slirp', 'macvtap', 'passt', 'vhostuser'] as const;

/**
 * Raw JSON bytes the list reader keeps of each field before projection. interfaces and
 * networks are large only when there are many of them, and MAX_DEVICES of the largest sensible
 * entries fit in 256 KiB; above it the entry is partial.
 */
export const VMI_LIST_FIELDS: KeepSpec = {
  metadata: { name: 1024, namespace: 1024, uid: 1024, resourceVersion: 1024 },
  spec: { domain: { devices: { interfaces: 256 * 1024 } }, networks: 256 * 1024 },
};
export const NAD_LIST_FIELDS: KeepSpec = {
  metadata: { name: 1024, namespace: 1024, uid: 1024, resourceVersion: 1024 },
  // The JSON string of the config: its escapes make it longer than the config, never shorter.
  spec: { config: MAX_NAD_CONFIG_BYTES * 6 + 2 },
};

// Entries that lack a field the decision may need (too large to cache): a lookup that finds one
// reads the object directly instead. Kept beside the objects, so no field name can collide.
const partial = new WeakSet<object>();

/** True when the cached object left out a field the decision may need. */
export function isPartial(obj: object): boolean {
  return partial.has(obj);
}

function markPartial<T extends object>(obj: T): T {
  partial.add(obj);
  return obj;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown, max: number): string | undefined {
  return typeof v === 'string' && v.length <= max ? v : undefined;
}

function metadataOf(obj: Record<string, unknown> | undefined): NonNullable<KubeObject['metadata']> & { resourceVersion?: string } {
  const m = rec(obj?.['metadata']);
  const out: { name?: string; namespace?: string; uid?: string; resourceVersion?: string } = {};
  const name = str(m?.['name'], MAX_NAME);
  const namespace = str(m?.['namespace'], MAX_NAME);
  const uid = str(m?.['uid'], MAX_NAME);
  // The informer resumes its watch from the last resourceVersion it saw.
  const resourceVersion = str(m?.['resourceVersion'], MAX_NAME);
  if (name !== undefined) out.name = name;
  if (namespace !== undefined) out.namespace = namespace;
  if (uid !== undefined) out.uid = uid;
  if (resourceVersion !== undefined) out.resourceVersion = resourceVersion;
  return out;
}

function projectInterface(v: unknown): Record<string, unknown> {
  const i = rec(v);
  const out: Record<string, unknown> = {};
  const name = str(i?.['name'], MAX_NAME);
  if (name !== undefined) out['name'] = name;
  const state = str(i?.['state'], 64);
  if (state !== undefined) out['state'] = state;
  for (const field of BINDING_FIELDS) if (rec(i?.[field]) !== undefined) out[field] = {};
  const bindingName = str(rec(i?.['binding'])?.['name'], MAX_NAME);
  // A binding whose name is too long to keep is still a binding: it must not read as "none".
  if (rec(i?.['binding']) !== undefined) out['binding'] = bindingName === undefined ? {} : { name: bindingName };
  return out;
}

function projectNetwork(v: unknown): Record<string, unknown> {
  const n = rec(v);
  const out: Record<string, unknown> = {};
  const name = str(n?.['name'], MAX_NAME);
  if (name !== undefined) out['name'] = name;
  const networkName = str(rec(n?.['multus'])?.['networkName'], MAX_NETWORK_NAME);
  if (networkName !== undefined) out['multus'] = { networkName };
  if (rec(n?.['pod']) !== undefined) out['pod'] = {};
  return out;
}

function firstOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v.slice(0, MAX_DEVICES) : [];
}

/**
 * The VMI as the cache keeps it: name, namespace, uid, resourceVersion; each interface's name,
 * state and binding (which field, and a plugin binding's name); each network's name and Multus
 * NAD name. `omitted` names fields the list reader had to leave out (too large): the entry is
 * then partial, so lookups read the VMI directly.
 */
export function projectVmi(obj: unknown, omitted: readonly string[] = []): KubeObject {
  const o = rec(obj);
  const spec = rec(o?.['spec']);
  const interfaces = firstOf(rec(rec(spec?.['domain'])?.['devices'])?.['interfaces']).map(projectInterface);
  const networks = firstOf(spec?.['networks']).map(projectNetwork);
  const out: KubeObject = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: metadataOf(o),
    spec: { domain: { devices: { interfaces } }, networks },
  };
  return omitted.length > 0 ? markPartial(out) : out;
}

/**
 * The NAD as the cache keeps it: name, namespace, uid, resourceVersion and spec.config up to
 * `maxConfigBytes` (a larger config is left out and the entry marked partial). A direct read,
 * which nothing keeps, passes Infinity so that its one request sees the whole config.
 */
export function projectNad(obj: unknown, omitted: readonly string[] = [], maxConfigBytes = MAX_NAD_CONFIG_BYTES): KubeObject {
  const o = rec(obj);
  const config = rec(o?.['spec'])?.['config'];
  const fits = typeof config === 'string' && (maxConfigBytes === Infinity || Buffer.byteLength(config, 'utf8') <= maxConfigBytes);
  const out: KubeObject = {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: metadataOf(o),
    spec: fits ? { config } : {},
  };
  return omitted.length > 0 || (typeof config === 'string' && !fits) ? markPartial(out) : out;
}
