// Pure. NetworkAttachmentDefinition references: `ns/name` or `name` (then the pod's namespace),
// compared the same way whichever side spells the namespace out.

/** A NAD reference; `namespace` is absent when neither the text nor a default gave one. */
export interface NadRef {
  readonly namespace?: string;
  readonly name: string;
}

/** @example parseNadName('blue', 'vms') // { namespace: 'vms', name: 'blue' } */
export function parseNadName(text: string, defaultNamespace?: string): NadRef {
  const slash = text.indexOf('/');
  if (slash >= 0) return { namespace: text.slice(0, slash).trim(), name: text.slice(slash + 1).trim() };
  const name = text.trim();
  return defaultNamespace === undefined || defaultNamespace === '' ? { name } : { namespace: defaultNamespace, name };
}

/** Same NAD? When one side's namespace is unknown, the names alone decide. */
export function isSameNad(a: NadRef, b: NadRef): boolean {
  if (a.name !== b.name) return false;
  return a.namespace === undefined || b.namespace === undefined || a.namespace === b.namespace;
}

export function formatNadRef(ref: NadRef): string {
  return ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`;
}
