// Pure. Userspace CNI `userspace/configuration-data`: one element per interface it added, with the
// container side of the NAD (`config` = NetConf.ContainerConf, so `vhost.mode` is the pod's side).
// intel/userspace-cni-network-plugin pkg/types ConfigurationData; every field there is omitempty.

import { z } from 'zod';
import { parseJsonAnnotation } from './json.js';

export const ConfigurationDataEntrySchema = z.looseObject({
  containerId: z.string().optional(),
  ifName: z.string(),
  name: z.string().optional(),
  config: z
    .looseObject({
      iftype: z.string().optional(),
      vhost: z
        .looseObject({
          mode: z.string().optional(),
          group: z.string().optional(),
          /** Bare `<containerId[:12]>-<ifName>` or an absolute path. */
          socketfile: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
});

export const ConfigurationDataSchema = z.array(ConfigurationDataEntrySchema);

export type ConfigurationDataEntry = z.output<typeof ConfigurationDataEntrySchema>;

/** @example parseConfigurationData('[{"ifName":"net1","config":{"vhost":{"socketfile":"x-net1"}}}]')[0]?.ifName // 'net1' */
export function parseConfigurationData(text: string): ConfigurationDataEntry[] {
  return parseJsonAnnotation('userspace/configuration-data', text, ConfigurationDataSchema);
}
