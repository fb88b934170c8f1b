// Pure. The DRA source (KubeVirt >= 1.9, NetworkDevicesWithDRA): a VMI network with
// `resourceClaim: {claimName, requestName}` -> the VMI's spec.resourceClaims entry -> the KEP-5304
// device metadata file the kubelet mounts for that claim's request -> the device's
// `vhost-user-path` and `mtu` attributes, as the OVS-DPDK DRA driver writes them. The file text
// is read at the I/O edge (dra-files.ts); everything here works on strings.

import { posix } from 'node:path';
import { z } from 'zod';
import { ConverterError } from './errors.js';
import type { Vmi, VmiNetwork } from './vmi.js';
import { describeZodError } from './annotations/json.js';

/** The one metadata API version the kubelet writes today (KEP-5304 alpha/beta). */
export const DRA_METADATA_API_VERSION = 'metadata.resource.k8s.io/v1alpha1';
/** The OVS-DPDK DRA driver's attributes (dra-driver-ovsdpdk deviceMetadataAttrs). */
export const DRA_ATTRIBUTE = { vhostUserPath: 'vhost-user-path', mtu: 'mtu' } as const;
/** OVS's MTU range for DPDK ports (netdev-dpdk.c), which the official plugin enforces too. */
export const DRA_MTU_RANGE = { min: 68, max: 9702 } as const;

/** Where one DRA network's device metadata lies, and the names that led there. */
export interface DraClaimRef {
  /** The VMI's spec.resourceClaims[].name (= the pod's claim name). */
  readonly claim: string;
  readonly request: string;
  /** `resourceclaims/<resourceClaimName>` or `resourceclaimtemplates/<claim>`, below the root. */
  readonly dir: string;
}

/** The file texts read for DRA networks: path -> text, or undefined when the file is absent. */
export type DraMetadataFiles = ReadonlyMap<string, string | undefined>;

// Pod claim names and request names are DNS labels, ResourceClaim names DNS subdomains: anything
// else is refused before it becomes part of a path (a `..` or a `/` would leave the root).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * The claim and request of a DRA network and the directory of its metadata (KubeVirt's rule,
 * pkg/dra/utils.go: a ResourceClaim by its own name, a template's claim by the pod claim name).
 *
 * @throws ConverterError E_DRA_CLAIM naming the interface, the claim and the request.
 */
export function draClaimRef(vmi: Vmi, network: VmiNetwork, iface: string): DraClaimRef {
  const claim = network.resourceClaim?.claimName ?? '';
  const request = network.resourceClaim?.requestName ?? '';
  const where = `interface '${iface}': network '${network.name}' resourceClaim {claimName: ${JSON.stringify(claim)}, requestName: ${JSON.stringify(request)}}`;
  const fail = (what: string, hint: string): never => {
    throw new ConverterError('E_DRA_CLAIM', `${where} ${what}`, { iface, claim, request, hint });
  };
  if (!DNS_LABEL.test(claim) || !DNS_LABEL.test(request)) fail('is not a pair of DNS labels', 'claimName and requestName are required and must be DNS labels');
  const entry = vmi.spec.resourceClaims?.find((c) => c.name === claim);
  if (entry === undefined) fail('names no entry of spec.resourceClaims', `add {name: ${claim}, resourceClaimTemplateName: ...} to spec.resourceClaims`);
  const direct = entry?.resourceClaimName ?? '';
  const template = entry?.resourceClaimTemplateName ?? '';
  if ((direct === '') === (template === '')) fail(`: spec.resourceClaims '${claim}' must set exactly one of resourceClaimName and resourceClaimTemplateName`, 'as KubeVirt requires');
  if (direct !== '') {
    if (!DNS_SUBDOMAIN.test(direct)) fail(`: resourceClaimName ${JSON.stringify(direct)} is not a DNS subdomain`, 'name an existing ResourceClaim');
    return { claim, request, dir: posix.join('resourceclaims', direct) };
  }
  return { claim, request, dir: posix.join('resourceclaimtemplates', claim) };
}

/** The metadata file a driver writes for a claim's request (KEP-5304 `<driver>-metadata.json`). */
export function draMetadataPath(root: string, ref: DraClaimRef, driver: string): string {
  return posix.join(root, ref.dir, ref.request, `${driver}-metadata.json`);
}

const Attribute = z.looseObject({ string: z.string().optional(), int: z.number().optional(), bool: z.boolean().optional(), version: z.string().optional() });
const Device = z.looseObject({
  driver: z.string(),
  pool: z.string().optional(),
  name: z.string().optional(),
  attributes: z.record(z.string(), Attribute).optional(),
  networkData: z.looseObject({ hardwareAddress: z.string().optional() }).optional(),
});
const DeviceMetadata = z.looseObject({
  apiVersion: z.literal(DRA_METADATA_API_VERSION),
  kind: z.literal('DeviceMetadata'),
  requests: z.array(z.looseObject({ name: z.string(), devices: z.array(Device).optional() })).optional(),
});

export type DraDevice = z.output<typeof Device>;

/**
 * Splits a JSON stream (values one after another, as Go's json.Encoder writes them) into the
 * texts of its values. Returns undefined when the text is not such a stream.
 */
export function splitJsonStream(text: string): string[] | undefined {
  const values: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth === 0) return undefined; // a bare string value is no metadata object
      inString = true;
    } else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      if (depth === 0) return undefined;
      depth--;
      if (depth === 0) values.push(text.slice(start, i + 1));
    } else if (depth === 0 && !/\s/.test(c ?? '')) {
      return undefined;
    }
  }
  return depth === 0 && !inString ? values : undefined;
}

export interface DraVhostUser {
  readonly path: string;
  readonly mtu?: number;
  readonly mac?: string;
  /** The device as `driver/pool/name`, for messages. */
  readonly device: string;
}

/**
 * The vhost-user socket of a claim's request from its metadata file: the first object of the
 * stream in a version this code reads (newer versions come first and are skipped), its request
 * (a prioritized list's `<request>/<subrequest>` counts), the one device of `driver` with a
 * string `vhost-user-path`; `mtu`, when present, an integer in 68..9702.
 *
 * @throws ConverterError E_DRA_METADATA naming the interface, the claim, the request and the file.
 */
export function draVhostUser(text: string, file: string, ref: DraClaimRef, driver: string, iface: string): DraVhostUser {
  const where = `interface '${iface}': DRA claim '${ref.claim}' request '${ref.request}': ${file}`;
  const fail = (what: string, hint?: string): never => {
    throw new ConverterError('E_DRA_METADATA', `${where} ${what}`, { iface, claim: ref.claim, request: ref.request, file, ...(hint !== undefined ? { hint } : {}) });
  };
  const values = splitJsonStream(text);
  if (values === undefined || values.length === 0) fail(values === undefined ? 'is not a JSON stream of objects' : 'is empty', 'the kubelet writes it before the container starts; check the DRA driver runs with device metadata enabled');
  let parsed: unknown;
  for (const value of values ?? []) {
    let raw: unknown;
    try {
      raw = JSON.parse(value);
    } catch (err) {
      fail(`is not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    const apiVersion = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['apiVersion'] : undefined;
    if (apiVersion === DRA_METADATA_API_VERSION) {
      parsed = raw;
      break;
    }
  }
  if (parsed === undefined) fail(`holds no object of apiVersion ${DRA_METADATA_API_VERSION}`);
  const result = DeviceMetadata.safeParse(parsed);
  if (!result.success) fail(`is no DeviceMetadata: ${describeZodError(result.error)}`);
  const requests = result.data?.requests ?? [];
  const request = requests.find((r) => r.name === ref.request || r.name.startsWith(`${ref.request}/`));
  if (request === undefined) fail(`has no request '${ref.request}' (it has ${requests.map((r) => `'${r.name}'`).join(', ') || 'none'})`);
  const devices = (request?.devices ?? []).filter((d) => d.driver === driver);
  if (devices.length !== 1) fail(`has ${devices.length} devices of driver ${driver} for the request; exactly one carries a vhost-user socket`);
  const device = devices[0] as DraDevice;
  const name = `${device.driver}/${device.pool ?? ''}/${device.name ?? ''}`;
  const attrs = device.attributes ?? {};
  const path = attrs[DRA_ATTRIBUTE.vhostUserPath]?.string;
  if (path === undefined || path === '') fail(`: device ${name} has no string attribute ${DRA_ATTRIBUTE.vhostUserPath}`);
  if ((path ?? '').split('/').includes('..')) fail(`: device ${name} attribute ${DRA_ATTRIBUTE.vhostUserPath} ${JSON.stringify(path)} contains a '..' segment`);
  if (!(path ?? '').startsWith('/')) fail(`: device ${name} attribute ${DRA_ATTRIBUTE.vhostUserPath} ${JSON.stringify(path)} is not an absolute path`);
  const mtuAttr = attrs[DRA_ATTRIBUTE.mtu];
  let mtu: number | undefined;
  if (mtuAttr !== undefined) {
    mtu = mtuAttr.int;
    if (mtu === undefined || !Number.isInteger(mtu)) fail(`: device ${name} attribute ${DRA_ATTRIBUTE.mtu} is not an integer`);
    else if (mtu < DRA_MTU_RANGE.min || mtu > DRA_MTU_RANGE.max) fail(`: device ${name} attribute ${DRA_ATTRIBUTE.mtu} ${mtu} is not in [${DRA_MTU_RANGE.min}, ${DRA_MTU_RANGE.max}]`);
  }
  const mac = device.networkData?.hardwareAddress;
  return { path: posix.normalize(path as string), device: name, ...(mtu !== undefined ? { mtu } : {}), ...(mac !== undefined && mac !== '' ? { mac } : {}) };
}

/** The DRA networks' claim refs of the vhost-user interfaces given, by interface name. */
export function draNetworks(vmi: Vmi, ifaces: readonly { readonly name: string }[]): { iface: string; network: VmiNetwork }[] {
  const out: { iface: string; network: VmiNetwork }[] = [];
  for (const i of ifaces) {
    const network = vmi.spec.networks?.find((n) => n.name === i.name);
    if (network !== undefined && isDraNetwork(network)) out.push({ iface: i.name, network });
  }
  return out;
}

/** A network whose device comes from a DRA claim rather than from Multus. */
export function isDraNetwork(network: VmiNetwork): boolean {
  return network.multus === undefined && network.resourceClaim !== undefined;
}
