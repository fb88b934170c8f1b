// Pure. Multus `k8s.v1.cni.cncf.io/networks`: the attachments requested for the pod, either a JSON
// list of NetworkSelectionElement or the comma list `[ns/]name[@iface]` (Multus decides by looking
// for any of `[`, `{` or `"`, and so do we).

import { z } from 'zod';
import { ConverterError } from '../errors.js';
import { parseJsonAnnotation, validateAnnotation } from './json.js';

export const NetworkSelectionSchema = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  interface: z.string().optional(),
  /** Spelling used before Multus 3.2. */
  interfaceRequest: z.string().optional(),
  mac: z.string().optional(),
});

/** One requested attachment, normalised. */
export interface NetworkSelection {
  readonly name: string;
  readonly namespace?: string;
  readonly interface?: string;
  readonly mac?: string;
}

const KEY = 'k8s.v1.cni.cncf.io/networks';

/**
 * @example parseNetworksAnnotation('ns1/blue@dpdk0, red')
 *   // [{ namespace: 'ns1', name: 'blue', interface: 'dpdk0' }, { name: 'red' }]
 */
export function parseNetworksAnnotation(text: string): NetworkSelection[] {
  if (/[[{"]/.test(text)) {
    const raw = parseJsonAnnotation(KEY, text, z.unknown());
    return validateAnnotation(KEY, raw, z.array(NetworkSelectionSchema)).map((el) => {
      const iface = el.interface !== undefined && el.interface !== '' ? el.interface : el.interfaceRequest;
      return {
        name: el.name,
        ...(el.namespace !== undefined && el.namespace !== '' ? { namespace: el.namespace } : {}),
        ...(iface !== undefined && iface !== '' ? { interface: iface } : {}),
        ...(el.mac !== undefined && el.mac !== '' ? { mac: el.mac } : {}),
      };
    });
  }
  if (text.trim() === '') return [];
  return text.split(',').map((item, index) => parseCommaItem(item.trim(), index));
}

function parseCommaItem(item: string, index: number): NetworkSelection {
  const fail = (why: string): never => {
    throw new ConverterError('E_ANNOTATION_SCHEMA', `annotation ${KEY}: item ${index + 1} ${JSON.stringify(item)}: ${why}`, {
      annotation: KEY,
      hint: 'expected a comma-separated list of [namespace/]name[@interface]',
    });
  };
  const slashParts = item.split('/');
  if (slashParts.length > 2) fail("more than one '/'");
  const namespace = slashParts.length === 2 ? (slashParts[0] ?? '').trim() : undefined;
  const atParts = (slashParts[slashParts.length - 1] ?? '').split('@');
  if (atParts.length > 2) fail("more than one '@'");
  const name = (atParts[0] ?? '').trim();
  const iface = atParts[1]?.trim();
  if (name === '') fail('empty network name');
  if (namespace === '') fail('empty namespace');
  if (iface === '') fail("empty interface name after '@'");
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(iface !== undefined ? { interface: iface } : {}),
  };
}
