// Pure. Checks one ResolvedInterface (and a set of them) against what libvirt and QEMU accept,
// before any XML is written. Every failure is a ConverterError naming the interface, with a hint.
import { posix } from 'node:path';
import { ConverterError, type ConverterErrorCode } from '../errors.js';
import type { PciAddress, ResolvedInterface } from '../model.js';

/** `sun_path` is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;
export const MIN_QUEUE_SIZE = 256;
export const MAX_QUEUE_SIZE = 1024;
export const MAX_QUEUES = 256;
/** QEMU's host_mtu range. */
export const MIN_MTU = 68;
export const MAX_MTU = 65535;
/** libvirt's upper bound for `<acpi index>`. */
export const MAX_ACPI_INDEX = 16383;

const MODES: readonly string[] = ['server', 'client'];
const MODELS: readonly string[] = ['virtio', 'virtio-transitional', 'virtio-non-transitional'];
// libvirt keeps a user alias only if it is `ua-` + these characters; it silently drops others.
const ALIAS_CHARS = /^[A-Za-z0-9_-]+$/;
const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
// C0, DEL and C1 controls, lone surrogates, and the two noncharacters XML 1.0 forbids.
const CONTROL_OR_NON_XML = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/u;
const PCI_LIMITS = { domain: 0xffff, bus: 0xff, slot: 0x1f, function: 0x7 } as const;

function fail(code: ConverterErrorCode, iface: string, what: string, hint: string): never {
  throw new ConverterError(code, `interface '${iface}': ${what}`, { iface, hint });
}

/** A value from the domain, fit for a one-line message. */
export function printable(value: string): string {
  return value.replace(/[\p{Cc}\p{Cs}]/gu, '?');
}

/** Quotes a value for a one-line error message: JSON escapes, plus the controls JSON leaves raw. */
function show(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.replace(/[\p{Cc}\uFFFE\uFFFF]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Throws E_SOCKET_PATH unless `path` is an absolute, normalized, printable path that fits sun_path. */
export function checkSocketPath(iface: string, path: unknown): void {
  const hint = 'the socket path comes from device-info or userspace/configuration-data; it must be an absolute file path';
  if (typeof path !== 'string' || path.length === 0) fail('E_SOCKET_PATH', iface, 'socket path is empty', hint);
  if (CONTROL_OR_NON_XML.test(path)) {
    fail('E_SOCKET_PATH', iface, `socket path ${show(path)} contains control or non-XML characters`, hint);
  }
  if (!path.startsWith('/')) fail('E_SOCKET_PATH', iface, `socket path ${show(path)} is not absolute`, hint);
  if (path.endsWith('/')) fail('E_SOCKET_PATH', iface, `socket path ${show(path)} names a directory`, hint);
  if (path.split('/').includes('..') || posix.normalize(path) !== path) {
    fail('E_SOCKET_PATH', iface, `socket path ${show(path)} is not normalized (., .. or //)`, hint);
  }
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    fail(
      'E_SOCKET_PATH',
      iface,
      `socket path is ${bytes} bytes, more than the ${MAX_SOCKET_PATH_BYTES} a unix socket allows`,
      'use a shorter socket directory (mapped-dir / shared-dir mount) or socket file name',
    );
  }
}

/** Throws E_MAC unless `mac` is six hex octets with the multicast bit clear. */
export function checkMac(iface: string, mac: string): void {
  const hint = "write the MAC as six hex octets such as '02:00:00:00:00:01'";
  if (!MAC.test(mac)) fail('E_MAC', iface, `MAC ${show(mac)} is not six hex octets`, hint);
  if ((Number.parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    fail('E_MAC', iface, `MAC ${show(mac)} is a multicast address`, 'the lowest bit of the first octet must be 0');
  }
}

function checkQueueSize(iface: string, name: string, size: unknown): void {
  const ok = isIntIn(size, MIN_QUEUE_SIZE, MAX_QUEUE_SIZE) && (size & (size - 1)) === 0;
  if (!ok) {
    fail('E_QUEUE_SIZE', iface, `${name} ${show(size)} is not a power of two in [256, 1024]`, 'QEMU accepts 256, 512 or 1024');
  }
}

function checkPciAddress(iface: string, pci: PciAddress): void {
  for (const part of ['domain', 'bus', 'slot', 'function'] as const) {
    const raw = pci[part];
    const ok = typeof raw === 'string' && /^0x[0-9a-fA-F]{1,4}$/.test(raw) && Number.parseInt(raw, 16) <= PCI_LIMITS[part];
    if (!ok) {
      fail('E_VMI_INVALID', iface, `PCI address ${part} ${show(raw)} is out of range`, "the VMI's pciAddress must look like 0000:02:01.0");
    }
  }
}

/**
 * Throws a ConverterError for the first value of `iface` that libvirt or QEMU would refuse.
 *
 * @example checkInterface({ ...iface, mac: '01:00:5e:00:00:01' }) // throws E_MAC (multicast)
 */
export function checkInterface(iface: ResolvedInterface): void {
  const name = iface.vmiInterface;
  if (typeof name !== 'string' || !ALIAS_CHARS.test(name)) {
    const shown = typeof name === 'string' ? printable(name) : String(name);
    fail('E_VMI_INVALID', shown, `interface name ${show(name)} cannot form a libvirt alias`, 'use letters, digits, - and _ only');
  }
  checkSocketPath(name, iface.socketPath);
  if (!MODES.includes(iface.mode)) fail('E_MODE', name, `mode ${show(iface.mode)} is neither server nor client`, 'map the vhost-user mode to server or client');
  if (!MODELS.includes(iface.model)) fail('E_VMI_INVALID', name, `model ${show(iface.model)} is not a virtio model`, 'vhost-user needs virtio, virtio-transitional or virtio-non-transitional');
  checkQueueSize(name, 'rx_queue_size', iface.rxQueueSize);
  checkQueueSize(name, 'tx_queue_size', iface.txQueueSize);
  if (iface.queues !== undefined && !isIntIn(iface.queues, 1, MAX_QUEUES)) {
    fail('E_CONFIG', name, `queues ${show(iface.queues)} is not in [1, ${MAX_QUEUES}]`, 'queues follow the vCPU count and are capped at 256');
  }
  if (iface.mac !== undefined) checkMac(name, iface.mac);
  if (iface.mtu !== undefined && !isIntIn(iface.mtu, MIN_MTU, MAX_MTU)) {
    fail('E_ANNOTATION_SCHEMA', name, `MTU ${show(iface.mtu)} is not in [${MIN_MTU}, ${MAX_MTU}]`, "check the network-status annotation's mtu");
  }
  if (iface.pciAddress !== undefined) checkPciAddress(name, iface.pciAddress);
  if (iface.acpiIndex !== undefined && !isIntIn(iface.acpiIndex, 1, MAX_ACPI_INDEX)) {
    fail('E_VMI_INVALID', name, `ACPI index ${show(iface.acpiIndex)} is not in [1, ${MAX_ACPI_INDEX}]`, "fix the VMI interface's acpiIndex");
  }
  if (iface.bootOrder !== undefined && !isIntIn(iface.bootOrder, 1, 2 ** 31 - 1)) {
    fail('E_VMI_INVALID', name, `boot order ${show(iface.bootOrder)} is not a positive integer`, "fix the VMI interface's bootOrder");
  }
}

interface UniqueRule {
  readonly code: ConverterErrorCode;
  readonly what: string;
  readonly key: (iface: ResolvedInterface) => string | undefined;
  readonly hint: string;
}

// libvirt refuses a domain where two devices share any of these; so does QEMU for the socket.
const UNIQUE: readonly UniqueRule[] = [
  { code: 'E_VMI_INVALID', what: 'interface name', key: (i) => i.vmiInterface, hint: 'each VMI interface gets one <interface> element' },
  { code: 'E_SOCKET_PATH', what: 'socket path', key: (i) => i.socketPath, hint: 'each interface needs its own socket' },
  { code: 'E_MAC', what: 'MAC', key: (i) => i.mac?.toLowerCase(), hint: 'give each interface its own MAC' },
  { code: 'E_VMI_INVALID', what: 'boot order', key: (i) => i.bootOrder?.toString(), hint: 'boot orders must be unique' },
  { code: 'E_VMI_INVALID', what: 'ACPI index', key: (i) => i.acpiIndex?.toString(), hint: 'ACPI indexes must be unique' },
  { code: 'E_VMI_INVALID', what: 'PCI address', key: (i) => pciKey(i.pciAddress), hint: 'PCI addresses must be unique' },
];

function pciKey(pci: PciAddress | undefined): string | undefined {
  return pci === undefined ? undefined : [pci.domain, pci.bus, pci.slot, pci.function].map((p) => Number.parseInt(p, 16)).join(':');
}

/** checkInterface on each, then what only a set can get wrong: two interfaces sharing a name, socket, MAC, boot order, ACPI index or PCI address. */
export function checkInterfaces(ifaces: readonly ResolvedInterface[]): void {
  ifaces.forEach(checkInterface);
  for (const rule of UNIQUE) {
    const seen = new Set<string>();
    for (const iface of ifaces) {
      const key = rule.key(iface);
      if (key === undefined) continue;
      if (seen.has(key)) fail(rule.code, iface.vmiInterface, `${rule.what} ${show(key)} is used by another interface too`, rule.hint);
      seen.add(key);
    }
  }
}
