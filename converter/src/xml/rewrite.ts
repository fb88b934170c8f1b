// Pure. Adds or replaces our vhost-user interfaces in a whole libvirt domain and makes guest memory
// shared, as a list of text edits on the original: every byte outside them is kept, so other
// devices, other hooks' elements, namespaces, comments, CDATA and quoting survive unchanged.
import { ConverterError } from '../errors.js';
import type { ResolvedInterface } from '../model.js';
import { checkInterfaces, printable } from './checks.js';
import { applyEdits, appendChildren, insertAfter, layoutOf, type TextEdit } from './edits.js';
import { aliasFor, buildInterfaceNode, renderNode, type XmlNode } from './emit.js';
import { planSharedMemory } from './memory.js';
import { attr, childrenNamed, scanDocument, type XmlElement } from './scan.js';

function domainError(problem: string, hint: string): ConverterError {
  return new ConverterError('E_DOMAIN_XML', `domain XML: ${problem}`, { hint });
}

function aliasOf(iface: XmlElement): string | undefined {
  const alias = childrenNamed(iface, 'alias')[0];
  return alias === undefined ? undefined : attr(alias, 'name');
}

/** Our interfaces already in `<devices>`, by alias; two elements with one of our aliases is an error. */
function findOurs(devices: XmlElement, ifaces: readonly ResolvedInterface[]): Map<string, XmlElement> {
  const wanted = new Set(ifaces.map((i) => aliasFor(i.vmiInterface)));
  const found = new Map<string, XmlElement>();
  for (const el of childrenNamed(devices, 'interface')) {
    const alias = aliasOf(el);
    if (alias === undefined || !wanted.has(alias)) continue;
    if (found.has(alias)) throw domainError(`two <interface> elements carry alias '${alias}'`, 'remove the duplicate; aliases must be unique');
    found.set(alias, el);
  }
  return found;
}

/** Two NICs with one MAC break the network in ways that are hard to trace: refuse it up front. */
function checkForeignMacs(devices: XmlElement, ifaces: readonly ResolvedInterface[], ours: ReadonlyMap<string, XmlElement>): void {
  const mine = new Set(ours.values());
  // By MAC, so that each of the domain's interfaces costs one look-up, not a pass over ours.
  const byMac = new Map<string, ResolvedInterface>();
  for (const i of ifaces) {
    const mac = i.mac?.toLowerCase();
    if (mac !== undefined && !byMac.has(mac)) byMac.set(mac, i);
  }
  for (const el of childrenNamed(devices, 'interface')) {
    if (mine.has(el)) continue;
    const mac = childrenNamed(el, 'mac')[0];
    const address = mac === undefined ? undefined : attr(mac, 'address')?.toLowerCase();
    if (address === undefined) continue;
    const clash = byMac.get(address);
    if (clash === undefined) continue;
    const alias = aliasOf(el);
    const other = alias === undefined ? `<interface type='${printable(attr(el, 'type') ?? '?')}'>` : `interface '${printable(alias)}'`;
    throw new ConverterError('E_MAC', `interface '${clash.vmiInterface}': MAC ${address} is already used by the domain's ${other}`, {
      iface: clash.vmiInterface,
      hint: 'give the VMI interface another macAddress',
    });
  }
}

/** A number as libvirt reads an address attribute (strtol base 0: 0x hex, leading-0 octal, else decimal). */
function addressNumber(text: string | undefined): number | undefined {
  if (text === undefined) return 0;
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? Number.parseInt(t.slice(2), 16) : /^0[0-7]*$/.test(t) ? Number.parseInt(t, 8) : /^[1-9][0-9]*$/.test(t) ? Number(t) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `domain:bus:slot.function` of a device's own guest `<address type='pci'>`, if it has one. */
function guestPciKey(device: XmlElement): string | undefined {
  const address = childrenNamed(device, 'address').find((a) => attr(a, 'type') === 'pci');
  if (address === undefined) return undefined;
  const parts = ['domain', 'bus', 'slot', 'function'].map((name) => addressNumber(attr(address, name)));
  if (parts.some((p) => p === undefined)) return undefined; // libvirt will name what it cannot read
  return formatPci(parts as number[]);
}

/** `0000:00:0a.0`, the form of a VMI pciAddress. */
function formatPci([domain = 0, bus = 0, slot = 0, fn = 0]: readonly number[]): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${hex(fn, 1)}`;
}

function describeDevice(el: XmlElement): string {
  const type = attr(el, 'type') ?? attr(el, 'model');
  const alias = childrenNamed(el, 'alias')[0];
  const name = alias === undefined ? undefined : attr(alias, 'name');
  return `<${printable(el.name)}${type === undefined ? '' : ` type='${printable(type)}'`}>${name === undefined ? '' : ` (alias ${printable(name)})`}`;
}

/**
 * QEMU refuses a domain in which two devices share a guest PCI address ("Attempted double use of
 * PCI Address"), far from the VMI that caused it; say which two before libvirt sees it.
 */
function checkPciConflicts(devices: XmlElement, ifaces: readonly ResolvedInterface[], ours: ReadonlyMap<string, XmlElement>): void {
  const wanted = new Map<string, ResolvedInterface>();
  for (const i of ifaces) {
    if (i.pciAddress === undefined) continue;
    const { domain, bus, slot, function: fn } = i.pciAddress;
    wanted.set(formatPci([domain, bus, slot, fn].map((p) => Number.parseInt(p, 16))), i);
  }
  if (wanted.size === 0) return;
  const mine = new Set(ours.values());
  for (const el of devices.children) {
    if (mine.has(el)) continue;
    const key = guestPciKey(el);
    const clash = key === undefined ? undefined : wanted.get(key);
    if (clash === undefined) continue;
    throw new ConverterError('E_PCI_CONFLICT', `interface '${clash.vmiInterface}': PCI address ${key} is already used by the domain's ${describeDevice(el)}`, {
      iface: clash.vmiInterface,
      hint: "give the VMI interface another pciAddress, or none and let libvirt choose",
    });
  }
}

/** libvirt refuses per-device `<boot order>` next to `<os><boot dev>`; say so before it does. */
function checkBootOrder(domain: XmlElement, ifaces: readonly ResolvedInterface[]): void {
  const withOrder = ifaces.find((i) => i.bootOrder !== undefined);
  const osBoot = childrenNamed(domain, 'os').flatMap((os) => childrenNamed(os, 'boot'))[0];
  if (withOrder === undefined || osBoot === undefined) return;
  throw new ConverterError(
    'E_DOMAIN_XML',
    `interface '${withOrder.vmiInterface}': boot order ${withOrder.bootOrder} cannot be combined with the domain's <os><boot dev='${printable(attr(osBoot, 'dev') ?? '')}'/>`,
    { iface: withOrder.vmiInterface, hint: "libvirt accepts per-device boot orders or <os><boot>, not both: drop the VMI interface's bootOrder" },
  );
}

/**
 * The edits that rewriteDomain applies; empty when the domain already says what it should (the
 * rewrite is idempotent). Replacements equal to the text they replace are left out.
 */
export function planDomainEdits(domainXml: string, ifaces: readonly ResolvedInterface[]): TextEdit[] {
  checkInterfaces(ifaces);
  // saxes' own errors, with line and column, are the message: no second parser is consulted.
  const { root, newline } = scanDocument(domainXml);
  if (root.name !== 'domain') throw domainError(`the root element is <${root.name}>, not <domain>`, 'pass a libvirt domain definition');
  const devicesList = childrenNamed(root, 'devices');
  const devices = devicesList[0];
  if (devices === undefined) throw domainError('there is no <devices> element', 'a domain needs <devices> to hold the interfaces');
  if (devicesList.length > 1) throw domainError(`there are ${devicesList.length} <devices> elements`, 'merge them into one');

  const existing = findOurs(devices, ifaces);
  checkForeignMacs(devices, ifaces, existing);
  checkPciConflicts(devices, ifaces, existing);
  checkBootOrder(root, ifaces);
  const edits: TextEdit[] = [];
  const added: XmlNode[] = [];
  for (const iface of ifaces) {
    const node = buildInterfaceNode(iface);
    const el = existing.get(aliasFor(iface.vmiInterface));
    if (el === undefined) {
      added.push(node);
      continue;
    }
    const text = renderNode(node, layoutOf(domainXml, el, newline));
    if (text !== domainXml.slice(el.start, el.end)) edits.push({ start: el.start, end: el.end, text });
  }
  if (added.length > 0) {
    // Next to the other interfaces, like libvirt groups devices by kind; else at the end of <devices>.
    const lastInterface = childrenNamed(devices, 'interface').at(-1);
    edits.push(lastInterface === undefined ? appendChildren(domainXml, devices, added, newline) : insertAfter(domainXml, lastInterface, added, newline));
  }
  if (ifaces.length > 0) edits.push(...planSharedMemory(domainXml, root, ifaces.map((i) => i.vmiInterface), newline));
  return edits;
}

/**
 * Returns `domainXml` with one `<interface type='vhostuser'>` per interface, found by its alias
 * `ua-<vmiInterface>` and replaced in place or added after the last interface, and with shared
 * guest memory. Everything else is kept byte for byte. Running it on its own output changes nothing.
 * Throws a ConverterError: E_DOMAIN_XML (malformed, no <devices>), E_MEMORY_PRIVATE, or a check's code.
 *
 * @example rewriteDomain(kubevirtDomainXml, [iface]) // the same domain plus our interface and <access mode='shared'/>
 */
export function rewriteDomain(domainXml: string, ifaces: readonly ResolvedInterface[]): string {
  // The output is not parsed again: it is the domain saxes just read, cut only at the offsets it
  // reported (scan.ts stops on one that does not hold its markup), with text renderNode writes
  // from checked, escaped values. Parsing it again cost a quarter of a large rewrite with saxes.
  return applyEdits(domainXml, planDomainEdits(domainXml, ifaces));
}
