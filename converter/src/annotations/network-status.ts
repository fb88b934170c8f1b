// Pure. Multus `k8s.v1.cni.cncf.io/network-status` (and its deprecated twin `networks-status`):
// one entry per attachment, `name` being `ns/nad` or `nad`. Only the fields we read are checked.

import { z } from 'zod';
import { DeviceInfoSchema } from './device-info.js';
import { parseJsonAnnotation } from './json.js';

export const NetworkStatusEntrySchema = z.looseObject({
  name: z.string(),
  interface: z.string().optional(),
  mac: z.string().optional(),
  mtu: z.number().int().positive().optional(),
  default: z.boolean().optional(),
  'device-info': DeviceInfoSchema.optional(),
});

export const NetworkStatusSchema = z.array(NetworkStatusEntrySchema);

export type NetworkStatusEntry = z.output<typeof NetworkStatusEntrySchema>;

/**
 * @param key the annotation the text came from, for error messages.
 * @example parseNetworkStatus('[{"name":"default/blue","interface":"pod16477688c0e"}]')[0]?.interface // 'pod16477688c0e'
 */
export function parseNetworkStatus(text: string, key = 'k8s.v1.cni.cncf.io/network-status'): NetworkStatusEntry[] {
  return parseJsonAnnotation(key, text, NetworkStatusSchema);
}
