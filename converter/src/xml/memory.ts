// Pure. vhost-user backends map guest memory, so it must be shared. Plans the smallest edit that
// makes it so, following libvirt's rule (formatdomain "Memory Backing"): a NUMA cell's memAccess
// overrides <memoryBacking><access mode>, and a cell without memAccess inherits it.
import { ConverterError } from '../errors.js';
import { printable } from './checks.js';
import { appendChildren, insertAfter, insertBefore, addAttribute, type TextEdit } from './edits.js';
import type { XmlNode } from './emit.js';
import { attr, childrenNamed, type XmlElement } from './scan.js';

const SHARED = 'shared';
const ACCESS: XmlNode = { name: 'access', attrs: [['mode', SHARED]], children: [] };
// libvirt writes these before <memoryBacking> and these inside it after <access> (dumpxml order).
const BEFORE_MEMORY_BACKING = ['maxMemory', 'memory', 'currentMemory', 'blkiotune', 'memtune'];
const AFTER_ACCESS = ['allocation', 'discard'];

function names(ifaces: readonly string[]): string {
  return ifaces.map((n) => `'${n}'`).join(', ');
}

function conflict(setting: string, ifaces: readonly string[]): never {
  const who = ifaces.length === 1 ? `vhost-user interface ${names(ifaces)} needs` : `vhost-user interfaces ${names(ifaces)} need`;
  throw new ConverterError('E_MEMORY_PRIVATE', `the domain sets ${setting}, but ${who} shared guest memory`, {
    hint: "remove the private setting or make it 'shared'; the backend cannot map private guest memory",
    ...(ifaces.length === 1 && ifaces[0] !== undefined ? { iface: ifaces[0] } : {}),
  });
}

/** The NUMA cells of `<cpu><numa>`, in document order. */
export function numaCells(domain: XmlElement): XmlElement[] {
  return childrenNamed(domain, 'cpu')
    .flatMap((cpu) => childrenNamed(cpu, 'numa'))
    .flatMap((numa) => childrenNamed(numa, 'cell'));
}

/**
 * Edits that make all guest memory shared, or none if it already is. Throws E_MEMORY_PRIVATE,
 * naming the domain's setting and `ifaces`, when the domain explicitly asks for anything else.
 */
export function planSharedMemory(src: string, domain: XmlElement, ifaces: readonly string[], newline: string): TextEdit[] {
  const backing = childrenNamed(domain, 'memoryBacking')[0];
  const access = backing === undefined ? undefined : childrenNamed(backing, 'access')[0];
  const mode = access === undefined ? undefined : attr(access, 'mode');
  if (mode !== undefined && mode !== SHARED) conflict(`<memoryBacking><access mode='${printable(mode)}'/>`, ifaces);
  const cells = numaCells(domain);
  for (const cell of cells) {
    const memAccess = attr(cell, 'memAccess');
    if (memAccess !== undefined && memAccess !== SHARED) conflict(`memAccess='${printable(memAccess)}' on NUMA cell id='${printable(attr(cell, 'id') ?? '?')}'`, ifaces);
  }
  if (mode === SHARED) return [];
  // With NUMA cells, QEMU builds one memory backend per cell: mark each (VEP 307, Kube-OVN do the same).
  if (cells.length > 0) {
    return cells.filter((c) => attr(c, 'memAccess') === undefined).map((c) => addAttribute(c, 'memAccess', SHARED));
  }
  if (access !== undefined) return [addAttribute(access, 'mode', SHARED)];
  if (backing !== undefined) {
    const next = backing.children.find((c) => AFTER_ACCESS.includes(c.name));
    return [next === undefined ? appendChildren(src, backing, [ACCESS], newline) : insertBefore(src, next, [ACCESS], newline)];
  }
  const created: XmlNode = { name: 'memoryBacking', attrs: [], children: [ACCESS] };
  const anchor = domain.children.filter((c) => BEFORE_MEMORY_BACKING.includes(c.name)).at(-1) ?? childrenNamed(domain, 'name')[0];
  return [anchor === undefined ? appendChildren(src, domain, [created], newline) : insertAfter(src, anchor, [created], newline)];
}
