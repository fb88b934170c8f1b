// Pure. ResolvedInterface -> libvirt `<interface type='vhostuser'>` text. Builds a small element
// tree first, then serializes it with single quotes and escaped values, as `virsh dumpxml` does.
import type { ResolvedInterface } from '../model.js';
import { checkInterfaces } from './checks.js';

/** libvirt keeps aliases with this prefix as user aliases; KubeVirt names its devices the same way. */
export const ALIAS_PREFIX = 'ua-';
/**
 * Seconds between QEMU's reconnect attempts in client mode. libvirt (9.0 verified) rejects
 * `<reconnect>` in server mode, where the backend reconnects to QEMU instead.
 */
export const RECONNECT_TIMEOUT_S = 10;

export interface XmlNode {
  readonly name: string;
  readonly attrs: readonly (readonly [string, string])[];
  readonly children: readonly XmlNode[];
}

/** Where serialized text goes: `indent` of the element's own line (null = all on one line). */
export interface Layout {
  readonly indent: string | null;
  readonly step: string;
  readonly newline: string;
}

export const DEFAULT_LAYOUT: Layout = { indent: '', step: '  ', newline: '\n' };

export function aliasFor(vmiInterface: string): string {
  return `${ALIAS_PREFIX}${vmiInterface}`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/** Escapes an attribute value; tabs and line breaks become references so parsers keep them. */
export function escapeAttribute(value: string): string {
  return value.replace(/[&<>'"\t\n\r]/g, (c) => ESCAPES[c] ?? c);
}

function node(name: string, attrs: Record<string, string | number | undefined>, children: XmlNode[] = []): XmlNode {
  const list = Object.entries(attrs).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as const]));
  return { name, attrs: list, children };
}

function hex(value: string, width: number): string {
  return `0x${Number.parseInt(value, 16).toString(16).padStart(width, '0')}`;
}

/**
 * The element tree of one interface, children in the order libvirt 9.0's dumpxml writes them:
 * mac, source, model, driver, mtu, boot, alias, acpi, address. Expects a checked interface.
 */
export function buildInterfaceNode(iface: ResolvedInterface): XmlNode {
  const children: XmlNode[] = [];
  if (iface.mac !== undefined) children.push(node('mac', { address: iface.mac.toLowerCase() }));
  const reconnect = iface.mode === 'client' ? [node('reconnect', { enabled: 'yes', timeout: RECONNECT_TIMEOUT_S })] : [];
  children.push(node('source', { type: 'unix', path: iface.socketPath, mode: iface.mode }, reconnect));
  children.push(node('model', { type: iface.model }));
  children.push(node('driver', { queues: iface.queues, rx_queue_size: iface.rxQueueSize, tx_queue_size: iface.txQueueSize }));
  if (iface.mtu !== undefined) children.push(node('mtu', { size: iface.mtu }));
  if (iface.bootOrder !== undefined) children.push(node('boot', { order: iface.bootOrder }));
  children.push(node('alias', { name: aliasFor(iface.vmiInterface) }));
  if (iface.acpiIndex !== undefined) children.push(node('acpi', { index: iface.acpiIndex }));
  const pci = iface.pciAddress;
  if (pci !== undefined) {
    const address = { type: 'pci', domain: hex(pci.domain, 4), bus: hex(pci.bus, 2), slot: hex(pci.slot, 2), function: hex(pci.function, 1) };
    children.push(node('address', address));
  }
  return node('interface', { type: 'vhostuser' }, children);
}

/** Serializes `n`; the first line carries no indent (the caller puts the text after one). */
export function renderNode(n: XmlNode, layout: Layout): string {
  const attrs = n.attrs.map(([k, v]) => ` ${k}='${escapeAttribute(v)}'`).join('');
  if (n.children.length === 0) return `<${n.name}${attrs}/>`;
  const { indent, step, newline } = layout;
  const inner = indent === null ? layout : { ...layout, indent: indent + step };
  const lead = inner.indent === null ? '' : newline + inner.indent;
  const body = n.children.map((c) => lead + renderNode(c, inner)).join('');
  const close = indent === null ? '' : newline + indent;
  return `<${n.name}${attrs}>${body}${close}</${n.name}>`;
}

/**
 * The `<interface type='vhostuser'>` elements for `ifaces`, in the given order (the order of the
 * VMI's interfaces decides the guest's NIC order), 2-space indented, each followed by a newline.
 * Throws a ConverterError if any interface fails checkInterface.
 *
 * @example emitInterfaces([iface]) // "<interface type='vhostuser'>\n  <mac address='02:…'/>\n…</interface>\n"
 */
export function emitInterfaces(ifaces: readonly ResolvedInterface[]): string {
  checkInterfaces(ifaces);
  return ifaces.map((iface) => `${renderNode(buildInterfaceNode(iface), DEFAULT_LAYOUT)}\n`).join('');
}
