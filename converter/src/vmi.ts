// Pure. The subset of a KubeVirt VirtualMachineInstance the converter reads (zod, unknown fields
// ignored), plus KubeVirt's own derivations from it: vCPU count, virtio model, PCI address and the
// two pod interface naming schemes (kubevirt pkg/network/namescheme).

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConverterError } from './errors.js';
import type { PciAddress, VirtioModel } from './model.js';
import { describeZodError } from './annotations/json.js';

const Count = z.number().int().min(0).optional();

export const VmiInterfaceSchema = z.looseObject({
  name: z.string().min(1),
  macAddress: z.string().optional(),
  model: z.string().optional(),
  pciAddress: z.string().optional(),
  acpiIndex: z.number().int().min(0).optional(),
  bootOrder: z.number().int().min(1).optional(),
  state: z.string().optional(),
  vhostuser: z.unknown().optional(),
  binding: z.looseObject({ name: z.string() }).optional(),
});

export const VmiNetworkSchema = z.looseObject({
  name: z.string().min(1),
  pod: z.unknown().optional(),
  multus: z.looseObject({ networkName: z.string().min(1), default: z.boolean().optional() }).optional(),
  // KubeVirt >= 1.9 with NetworkDevicesWithDRA: the device comes from a DRA claim, not from Multus.
  resourceClaim: z.looseObject({ claimName: z.string().optional(), requestName: z.string().optional() }).optional(),
});

const ResourceList = z.record(z.string(), z.unknown()).optional();

export const VmiSchema = z.looseObject({
  kind: z.string().optional(),
  metadata: z
    .looseObject({
      name: z.string().optional(),
      namespace: z.string().optional(),
      // Written by the VMI owner; KubeVirt copies them onto the launcher pod.
      annotations: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  spec: z.looseObject({
    architecture: z.string().optional(),
    domain: z.looseObject({
      cpu: z.looseObject({ cores: Count, sockets: Count, threads: Count }).optional(),
      resources: z.looseObject({ requests: ResourceList, limits: ResourceList }).optional(),
      devices: z
        .looseObject({
          interfaces: z.array(VmiInterfaceSchema).optional(),
          networkInterfaceMultiqueue: z.boolean().optional(),
          useVirtioTransitional: z.boolean().optional(),
        })
        .optional(),
    }),
    networks: z.array(VmiNetworkSchema).optional(),
    // KubeVirt >= 1.9: the claims DRA networks name (VirtualMachineInstanceResourceClaim).
    resourceClaims: z
      .array(z.looseObject({ name: z.string(), resourceClaimName: z.string().optional(), resourceClaimTemplateName: z.string().optional() }))
      .optional(),
  }),
  status: z
    .looseObject({
      interfaces: z.array(z.looseObject({ name: z.string().optional(), podInterfaceName: z.string().optional() })).optional(),
    })
    .optional(),
});

export type Vmi = z.output<typeof VmiSchema>;
export type VmiInterface = z.output<typeof VmiInterfaceSchema>;
export type VmiNetwork = z.output<typeof VmiNetworkSchema>;

/**
 * Validates a VMI (or a VirtualMachine, whose template is used). Only the fields read are checked.
 *
 * @throws ConverterError E_VMI_INVALID naming the field, e.g. `VMI spec.networks[0].name: ...`.
 */
export function parseVmi(input: unknown): Vmi {
  const result = VmiSchema.safeParse(unwrapVirtualMachine(input));
  if (!result.success) {
    throw new ConverterError('E_VMI_INVALID', `VMI ${describeZodError(result.error)}`, {
      hint: 'pass a kubevirt.io/v1 VirtualMachineInstance as JSON or YAML',
    });
  }
  return result.data;
}

/**
 * A VirtualMachine stands in for its VMI: its template's spec and annotations, the VM's own name and
 * namespace (KubeVirt's VM controller makes the VMI so). Anything else is returned as it is.
 */
export function unwrapVirtualMachine(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const vm = input as { kind?: unknown; metadata?: unknown; spec?: { template?: { metadata?: { annotations?: unknown }; spec?: unknown } } };
  if (vm.kind !== 'VirtualMachine' || vm.spec?.template?.spec === undefined) return input;
  // The VMI's annotations are the template's, not the VM's own (KubeVirt's VM controller).
  const metadata = typeof vm.metadata === 'object' && vm.metadata !== null ? { ...vm.metadata } : {};
  const annotations = vm.spec.template.metadata?.annotations;
  return {
    kind: 'VirtualMachineInstance',
    metadata: { ...metadata, annotations: annotations ?? {} },
    spec: vm.spec.template.spec,
  };
}

/** `namespace/name` of the VMI for messages, or just what is known. */
export function vmiDisplayName(vmi: Vmi): string {
  const { name, namespace } = vmi.metadata ?? {};
  if (name === undefined) return 'VMI';
  return namespace === undefined ? `VMI ${name}` : `VMI ${namespace}/${name}`;
}

/**
 * vCPUs as KubeVirt counts them (GetCPUTopology + CalculateRequestedVCPUs): cores * sockets *
 * threads, each defaulting to 1; with no topology at all, the CPU limit (else request) rounded up.
 */
export function countVcpus(vmi: Vmi): number {
  const cpu = vmi.spec.domain.cpu;
  const cores = cpu?.cores || 1;
  const threads = cpu?.threads || 1;
  let sockets = cpu?.sockets || 1;
  if (!cpu?.cores && !cpu?.sockets && !cpu?.threads) {
    const resources = vmi.spec.domain.resources;
    const quantity = resources?.limits?.['cpu'] ?? resources?.requests?.['cpu'];
    if (quantity !== undefined) sockets = cpuQuantityValue(quantity);
  }
  return cores * sockets * threads;
}

const SUFFIX: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** resource.Quantity.Value() for a CPU amount: rounded up to a whole number ("500m" -> 1). */
export function cpuQuantityValue(quantity: unknown): number {
  const text = typeof quantity === 'number' ? String(quantity) : quantity;
  const match = typeof text === 'string' ? /^\s*(\d+(?:\.\d+)?|\.\d+)(n|u|m|k|M|G|T|Ki|Mi|Gi)?\s*$/.exec(text) : null;
  const scale = SUFFIX[match?.[2] ?? ''];
  if (match === null || scale === undefined) {
    throw new ConverterError('E_VMI_INVALID', `VMI spec.domain.resources cpu: ${JSON.stringify(quantity)} is not a CPU quantity`);
  }
  // Round away float noise first so that "1.1" * 1000m etc. never becomes 2 by accident.
  return Math.max(0, Math.ceil(Number((Number(match[1]) * scale).toFixed(9))));
}

/**
 * libvirt model for a VMI interface (KubeVirt translateModel): `virtio` becomes
 * virtio-transitional / virtio-non-transitional by `useVirtioTransitional`, except on s390x where
 * both are PCI-only and `virtio` stays. vhost-user works only with virtio devices.
 */
export function virtioModelOf(vmi: Vmi, iface: VmiInterface): VirtioModel {
  const requested = iface.model === undefined || iface.model === '' ? 'virtio' : iface.model;
  if (requested === 'virtio-transitional' || requested === 'virtio-non-transitional') return requested;
  if (requested !== 'virtio') {
    throw new ConverterError('E_VMI_INVALID', `interface '${iface.name}': model '${requested}' cannot carry vhost-user`, {
      iface: iface.name,
      hint: 'vhost-user needs a virtio NIC: remove model or set it to virtio',
    });
  }
  if (vmi.spec.architecture === 's390x') return 'virtio';
  return vmi.spec.domain.devices?.useVirtioTransitional === true ? 'virtio-transitional' : 'virtio-non-transitional';
}

/** "0000:81:01.0" -> libvirt address attributes (KubeVirt device.NewPciAddressField). */
export function parsePciAddress(text: string, ifaceName: string): PciAddress {
  const match = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text);
  if (match === null) {
    throw new ConverterError('E_VMI_INVALID', `interface '${ifaceName}': pciAddress '${text}' is not dddd:bb:ss.f`, {
      iface: ifaceName,
      hint: 'use the form 0000:81:01.0',
    });
  }
  const [, domain = '', bus = '', slot = '', fn = ''] = match;
  const hexAttr = (s: string): string => `0x${s.toLowerCase()}`;
  return { domain: hexAttr(domain), bus: hexAttr(bus), slot: hexAttr(slot), function: hexAttr(fn) };
}

/** A Multus network that is not the pod's default network gets a secondary pod interface. */
export function isSecondaryMultusNetwork(network: VmiNetwork): boolean {
  return network.multus !== undefined && network.multus.default !== true;
}

/** KubeVirt >= 1.0: `pod` + first 11 hex chars of sha256(VMI network name). */
export function hashedPodInterfaceName(networkName: string): string {
  return `pod${createHash('sha256').update(networkName, 'utf8').digest('hex').slice(0, 11)}`;
}

/**
 * Ordinal pod interface names by VMI network name (the first network of a name counts): secondary
 * Multus networks are net1, net2, ... in spec.networks order, a default Multus network is eth0.
 * Computed once per VMI, so naming n interfaces stays linear.
 */
export function ordinalPodInterfaceNames(vmi: Vmi): ReadonlyMap<string, string | undefined> {
  const names = new Map<string, string | undefined>();
  let secondary = 0;
  for (const network of vmi.spec.networks ?? []) {
    const ordinal = isSecondaryMultusNetwork(network) ? `net${++secondary}` : network.multus !== undefined ? 'eth0' : undefined;
    if (!names.has(network.name)) names.set(network.name, ordinal);
  }
  return names;
}

/**
 * Pod interface names a VMI network would get under KubeVirt's two schemes. The ordinal scheme
 * counts secondary Multus networks in spec.networks order (net1, net2, ...); a default Multus
 * network is eth0 under both. Pass `ordinals` (ordinalPodInterfaceNames) when naming many.
 */
export function podInterfaceNameCandidates(
  vmi: Vmi,
  networkName: string,
  ordinals: ReadonlyMap<string, string | undefined> = ordinalPodInterfaceNames(vmi),
): { ordinal?: string; hashed?: string } {
  const ordinal = ordinals.get(networkName);
  if (ordinal === undefined) return {};
  if (ordinal === 'eth0') return { ordinal: 'eth0', hashed: 'eth0' };
  return { ordinal, hashed: hashedPodInterfaceName(networkName) };
}
