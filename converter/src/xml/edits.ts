// Pure. Text edits on a scanned document: where new elements go and how they are indented so that
// they match their neighbours, and applying edits while every other byte stays as it was.
import type { Layout, XmlNode } from './emit.js';
import { renderNode } from './emit.js';
import type { XmlElement } from './scan.js';

/** Replace src[start, end) with `text`; start === end inserts. */
export interface TextEdit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const isBlank = (code: number): boolean => code === 32 /* space */ || code === 9 /* tab */;
const isSpace = (code: number): boolean => isBlank(code) || code === 10 /* \n */ || code === 13 /* \r */;

/** The whitespace from the start of the line to `offset`, or null if something else precedes it. */
export function lineIndent(src: string, offset: number): string | null {
  // Walk back over blanks only: looking for the line start first would read a one-line domain
  // back to its beginning for every element laid out, which is quadratic.
  let j = offset - 1;
  while (j >= 0 && isBlank(src.charCodeAt(j))) j--;
  return j < 0 || src.charCodeAt(j) === 10 ? src.slice(j + 1, offset) : null;
}

/** The offset where the whitespace that ends src[from, to) begins (`to` if there is none). */
function trailingSpaceStart(src: string, from: number, to: number): number {
  // A loop, not a /\s+$/ regex, which retries from every blank of every earlier run of blanks.
  let j = to;
  while (j > from && isSpace(src.charCodeAt(j - 1))) j--;
  return j;
}

/** One indentation step, learned from a child and its parent; two spaces when they do not tell. */
function stepBetween(src: string, child: XmlElement, parent: XmlElement | null): string {
  const inner = lineIndent(src, child.start);
  const outer = parent === null ? '' : lineIndent(src, parent.start);
  if (inner !== null && outer !== null && inner.length > outer.length && inner.startsWith(outer)) return inner.slice(outer.length);
  return '  ';
}

/** Layout that reproduces how `el` itself is laid out (used to replace it in place). */
export function layoutOf(src: string, el: XmlElement, newline: string): Layout {
  return { indent: lineIndent(src, el.start), step: stepBetween(src, el, el.parent), newline };
}

/** Layout for a new child of `parent`: like its last child, or one step deeper than the parent. */
export function childLayout(src: string, parent: XmlElement, newline: string): Layout {
  const last = parent.children.at(-1);
  if (last !== undefined) return layoutOf(src, last, newline);
  const own = layoutOf(src, parent, newline);
  return { ...own, indent: own.indent === null ? null : own.indent + own.step };
}

function renderLines(nodes: readonly XmlNode[], layout: Layout): string {
  const lead = layout.indent === null ? '' : layout.newline + layout.indent;
  return nodes.map((n) => lead + renderNode(n, layout)).join('');
}

/** Inserts `nodes` right after `sibling`, on lines of their own when the document has lines. */
export function insertAfter(src: string, sibling: XmlElement, nodes: readonly XmlNode[], newline: string): TextEdit {
  return { start: sibling.end, end: sibling.end, text: renderLines(nodes, layoutOf(src, sibling, newline)) };
}

/** Inserts `nodes` right before `sibling`, keeping the sibling on its line. */
export function insertBefore(src: string, sibling: XmlElement, nodes: readonly XmlNode[], newline: string): TextEdit {
  const layout = layoutOf(src, sibling, newline);
  const after = layout.indent === null ? '' : layout.newline + layout.indent;
  const text = nodes.map((n) => renderNode(n, layout) + after).join('');
  return { start: sibling.start, end: sibling.start, text };
}

/** Appends `nodes` as the last children of `parent`, opening a self-closing parent if needed. */
export function appendChildren(src: string, parent: XmlElement, nodes: readonly XmlNode[], newline: string): TextEdit {
  const last = parent.children.at(-1);
  if (last !== undefined) return insertAfter(src, last, nodes, newline);
  const layout = childLayout(src, parent, newline);
  const own = lineIndent(src, parent.start);
  const close = layout.indent === null || own === null ? '' : newline + own;
  if (parent.selfClosing) {
    return { start: parent.openEnd - 2, end: parent.openEnd, text: `>${renderLines(nodes, layout)}${close}</${parent.name}>` };
  }
  const at = trailingSpaceStart(src, parent.openEnd, parent.closeStart);
  if (at === parent.openEnd) {
    return { start: parent.openEnd, end: parent.closeStart, text: renderLines(nodes, layout) + close };
  }
  // Comments or text inside: add after them, before the whitespace that precedes the end tag.
  return { start: at, end: at, text: renderLines(nodes, layout) };
}

/** Adds attribute `name` with an already escaped value at the end of the start tag of `el`. */
export function addAttribute(el: XmlElement, name: string, escapedValue: string): TextEdit {
  const at = el.attrs.at(-1)?.end ?? el.nameEnd;
  return { start: at, end: at, text: ` ${name}='${escapedValue}'` };
}

/** Applies non-overlapping edits; an insertion at the end of a replaced range lands after it. */
export function applyEdits(src: string, edits: readonly TextEdit[]): string {
  const ordered = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  // Pieces joined once: concatenation built a rope of every edit that the next read flattened.
  const parts: string[] = [];
  let at = 0;
  for (const e of ordered) {
    if (e.start < at) throw new Error(`overlapping text edits at offset ${e.start}`);
    parts.push(src.slice(at, e.start), e.text);
    at = e.end;
  }
  parts.push(src.slice(at));
  return parts.join('');
}
