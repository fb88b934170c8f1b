// Pure. The device-info map (k8snetworkplumbingwg device-info-spec 1.1.0 section 3) as it appears
// in network-status entries and in KubeVirt's network-info annotation.

import { z } from 'zod';

export const VhostUserDeviceSchema = z.looseObject({
  /** Container side per the spec: `server` = the pod creates the socket. */
  mode: z.string(),
  /** Absolute, or a bare file name relative to the pod's socket directory. */
  path: z.string(),
});

/** Type `pci` (section 3.1.1): an SR-IOV VF or another PCI device handed to the pod, never a socket. */
export const PciDeviceSchema = z.looseObject({
  'pci-address': z.string().optional(),
});

export const DeviceInfoSchema = z.looseObject({
  type: z.string(),
  /** `1.1.0`, `1.0.0`, `v1.0.0` (seen in the wild) or absent (Juniper's CNI). */
  version: z.string().optional(),
  'vhost-user': VhostUserDeviceSchema.optional(),
  pci: PciDeviceSchema.optional(),
});

export type DeviceInfo = z.output<typeof DeviceInfoSchema>;
export type VhostUserDevice = z.output<typeof VhostUserDeviceSchema>;

/** An extended PCI address as device-info writes it: `0000:01:02.5` (domain:bus:slot.function). */
export const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** Versions of the spec whose vhost-user section we understand: any 1.x, with or without `v`. */
export function isSupportedDeviceInfoVersion(version: string | undefined): boolean {
  return version === undefined || /^v?1\.\d+\.\d+$/.test(version);
}
