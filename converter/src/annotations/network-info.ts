// Pure. KubeVirt `kubevirt.io/network-info` (pkg/network/downwardapi): device-info per VMI network
// name, written for binding plugins that ask for `downwardAPI: device-info`.

import { z } from 'zod';
import { DeviceInfoSchema } from './device-info.js';
import { parseJsonAnnotation } from './json.js';

export const NetworkInfoInterfaceSchema = z.looseObject({
  /** The VMI spec.networks[].name (not the NAD name). */
  network: z.string(),
  deviceInfo: DeviceInfoSchema.optional(),
  mac: z.string().optional(),
  mtu: z.number().int().positive().optional(),
});

export const NetworkInfoSchema = z.looseObject({
  interfaces: z.array(NetworkInfoInterfaceSchema).optional(),
});

export type NetworkInfoInterface = z.output<typeof NetworkInfoInterfaceSchema>;

/** @example parseNetworkInfo('{"interfaces":[{"network":"blue"}]}')[0]?.network // 'blue' */
export function parseNetworkInfo(text: string): NetworkInfoInterface[] {
  return parseJsonAnnotation('kubevirt.io/network-info', text, NetworkInfoSchema).interfaces ?? [];
}
