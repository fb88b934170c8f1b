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

const NEEDS_ESCAPE = /[&<>'"\t\n\r]/;

/** Escapes an attribute value; tabs and line breaks become references so parsers keep them. */
export function escapeAttribute(value: string): string {
  // Most values need nothing: a test is several times cheaper than a replace that finds nothing.
  return NEEDS_ESCAPE.test(value) ? value.replace(/[&<>'"\t\n\r]/g, (c) => ESCAPES[c] ?? c) : value;
}

function node(name: string, attrs: Record<string, string | number | undefined>, children: XmlNode[] = []): XmlNode {
  // A plain loop: entries + flatMap made four short-lived arrays per attribute, per interface.
  const list: (readonly [string, string])[] = [];
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) list.push([k, String(v)]);
  }
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
  const parts: string[] = [];
  renderParts(n, layout.indent === null ? null : layout.newline + layout.indent, layout.step, parts);
  // One join of flat pieces: concatenating them made a rope that every later read flattened again.
  return parts.join('');
}

/**
 * Appends the text of `n` to `parts`, with `lead` (newline + indent, or null on one line) before
 * its end tag and `lead + step` before each child. No layout object or array per element: when
 * ten thousand interfaces are written, those cost more than the text itself.
 */
function renderParts(n: XmlNode, lead: string | null, step: string, parts: string[]): void {
  parts.push(`<${n.name}`);
  for (const [k, v] of n.attrs) parts.push(` ${k}='${escapeAttribute(v)}'`);
  if (n.children.length === 0) {
    parts.push('/>');
    return;
  }
  parts.push('>');
  const inner = lead === null ? null : lead + step;
  for (const c of n.children) {
    if (inner !== null) parts.push(inner);
    renderParts(c, inner, step, parts);
  }
  parts.push(`${lead ?? ''}</${n.name}>`);
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
