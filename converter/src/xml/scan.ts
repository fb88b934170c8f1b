// Pure. Reads a whole XML document into an element tree that remembers where every element and
// attribute sits in the source text, so a rewrite can splice new text in and keep every other
// byte. Strict where libxml2 (libvirt's parser) is strict and fast-xml-parser's validator is not.
import { ConverterError } from '../errors.js';

export interface XmlAttr {
  readonly name: string;
  /** Value with entity references decoded and whitespace normalized, as an XML parser reports it. */
  readonly value: string;
  /** Offset of the first character of the name. */
  readonly start: number;
  /** Offset just past the closing quote. */
  readonly end: number;
}

export interface XmlElement {
  readonly name: string;
  readonly parent: XmlElement | null;
  readonly attrs: XmlAttr[];
  readonly children: XmlElement[];
  /** Offset of `<`. */
  readonly start: number;
  /** Offset just past the element name in the start tag. */
  readonly nameEnd: number;
  /** Offset just past the start tag (`>` or `/>`). */
  openEnd: number;
  /** Offset of `</` (equals openEnd for a self-closing element). */
  closeStart: number;
  /** Offset just past the element. */
  end: number;
  selfClosing: boolean;
}

export interface XmlDocument {
  readonly root: XmlElement;
  /** The document's own line break, reused for inserted lines. */
  readonly newline: '\n' | '\r\n';
}

const REFERENCE = /&(?:(lt|gt|amp|apos|quot)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
// Characters XML 1.0 forbids anywhere, even escaped.
const NON_XML_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\p{Cs}]/u;

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

export function lineAndColumn(src: string, offset: number): { line: number; column: number } {
  const before = src.slice(0, offset);
  const lastBreak = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastBreak };
}

function syntaxError(src: string, offset: number, problem: string): never {
  const { line, column } = lineAndColumn(src, offset);
  throw new ConverterError('E_DOMAIN_XML', `domain XML line ${line}, column ${column}: ${problem}`, {
    hint: 'pass the domain XML as KubeVirt or virsh dumpxml writes it',
  });
}

/**
 * The first `code` in src[from, to), or -1. Not indexOf: with no such character left in the
 * document it would read on to the end for every attribute and text, making a scan quadratic.
 */
function charIn(src: string, code: number, from: number, to: number): number {
  for (let j = from; j < to; j++) if (src.charCodeAt(j) === code) return j;
  return -1;
}

const AMPERSAND = 38;
const LESS_THAN = 60;

// Element and attribute names: XML 1.0's NameStartChar and NameChar within the BMP, the set
// fast-xml-parser's validator accepts, so a name it refuses is refused here too (see
// scanChecked in rewrite.ts). Tested by character code: a sticky regex allocates a match for every name.
function isNameStart(c: number): boolean {
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 /* _ */ || c === 58 /* : */;
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    (c >= 0x200c && c <= 0x200d) ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  );
}

function isNameChar(c: number): boolean {
  if (c < 0x80) return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 /* - */ || c === 46 /* . */;
  return isNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || (c >= 0x203f && c <= 0x2040);
}

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;
/** Above this many attributes, duplicates are found with a set instead of by comparing with each. */
const LINEAR_ATTRS = 8;

/**
 * Decodes the five predefined entities and character references in src[from, to); anything else
 * is an error. `literal` maps the text between references (attribute-value normalization).
 */
function decodeReferences(src: string, from: number, to: number, literal: (text: string) => string = (t) => t): string {
  let out = '';
  let i = from;
  while (i < to) {
    const amp = charIn(src, AMPERSAND, i, to);
    if (amp < 0) break;
    out += literal(src.slice(i, amp));
    REFERENCE.lastIndex = amp;
    const m = REFERENCE.exec(src);
    if (m === null || REFERENCE.lastIndex > to) syntaxError(src, amp, "'&' starts no entity this parser knows (only &lt; &gt; &amp; &apos; &quot; and &#N;)");
    if (m[1] !== undefined) {
      out += NAMED[m[1]];
    } else {
      const cp = Number.parseInt(m[2] ?? m[3] ?? '', m[2] !== undefined ? 10 : 16);
      if (!isXmlChar(cp)) syntaxError(src, amp, `character reference ${m[0]} is not an XML character`);
      out += String.fromCodePoint(cp);
    }
    i = REFERENCE.lastIndex;
  }
  return out + literal(src.slice(i, to));
}

// Attribute-value normalization (XML 1.0 section 3.3.3): literal line breaks and tabs become spaces.
const normalizeSpaces = (text: string): string => text.replace(/\r\n|[\r\n\t]/g, ' ');

// Shared by every element without children until its first one: most elements are leaves.
const NO_CHILDREN: XmlElement[] = [];

/**
 * An element as scanned. Its attributes are read again from the start tag on first use: the
 * rewrite asks for those of a few elements only, and a tree that holds every attribute of a large
 * domain as objects is twice the size, copied by the garbage collector while the scan runs.
 */
class ScannedElement implements XmlElement {
  openEnd = 0;
  closeStart = 0;
  end = 0;
  selfClosing = false;
  children: XmlElement[] = NO_CHILDREN;
  private attributes: XmlAttr[] | undefined;

  constructor(
    private readonly src: string,
    readonly name: string,
    readonly parent: ScannedElement | null,
    readonly start: number,
    readonly nameEnd: number,
  ) {}

  addChild(child: XmlElement): void {
    if (this.children === NO_CHILDREN) this.children = [];
    this.children.push(child);
  }

  get attrs(): XmlAttr[] {
    this.attributes ??= new Scanner(this.src, true, true).attributesOf(this);
    return this.attributes;
  }
}

class Scanner {
  private i = 0;
  private readonly stack: ScannedElement[] = [];
  private root: ScannedElement | null = null;
  /** Attribute names of the start tag being read. */
  private readonly tagAttrNames: string[] = [];
  /** The same names as a set, once there are more than LINEAR_ATTRS (made then: rarely needed). */
  private attrNames: Set<string> | undefined;

  /**
   * `build` false checks the text without keeping a tree: elements are no longer referenced once
   * closed, so the garbage collector has nothing to copy. `values` makes attribute() return the
   * attribute (for ScannedElement.attrs); a scan only checks them.
   */
  constructor(
    private readonly src: string,
    private readonly build = true,
    private readonly values = false,
  ) {}

  /** The attributes of `el`, whose start tag an earlier scan has checked. */
  attributesOf(el: XmlElement): XmlAttr[] {
    const attrs: XmlAttr[] = [];
    this.i = el.nameEnd;
    while (this.space() && this.src[this.i] !== '>' && !this.src.startsWith('/>', this.i)) {
      const a = this.attribute(el);
      if (a !== undefined) attrs.push(a);
    }
    return attrs;
  }

  scan(): XmlDocument {
    const { src } = this;
    // One pass over the whole text is cheaper than checking every text and attribute run.
    const bad = NON_XML_CHAR.exec(src);
    if (bad !== null) syntaxError(src, bad.index, `character U+${bad[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`);
    // A byte-order mark is kept (offsets count it) but is not content.
    if (src.startsWith('\uFEFF')) this.i = 1;
    while (this.i < src.length) {
      if (src[this.i] === '<') this.markup();
      else this.text();
    }
    const open = this.stack.at(-1);
    if (open !== undefined) syntaxError(src, open.start, `<${open.name}> is never closed`);
    if (this.root === null) syntaxError(src, 0, 'there is no root element');
    return { root: this.root, newline: src.includes('\r\n') ? '\r\n' : '\n' };
  }

  private skipTo(token: string, from: number, what: string): number {
    const at = this.src.indexOf(token, from);
    if (at < 0) syntaxError(this.src, this.i, `${what} is never closed`);
    return at;
  }

  private markup(): void {
    const { src, i } = this;
    // Most markup is a start or end tag: one character tells them from the rest.
    const next = src.charCodeAt(i + 1);
    if (next === 47 /* / */) {
      this.endTag();
    } else if (next !== 33 /* ! */ && next !== 63 /* ? */) {
      this.startTag();
    } else if (src.startsWith('<!--', i)) {
      const close = this.skipTo('-->', i + 4, 'comment');
      if (src.slice(i + 4, close).includes('--') || src[close - 1] === '-') syntaxError(src, i, "a comment contains '--'");
      this.i = close + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      if (this.stack.length === 0) syntaxError(src, i, 'CDATA outside the root element');
      this.i = this.skipTo(']]>', i + 9, 'CDATA section') + 3;
    } else if (src.startsWith('<!', i)) {
      // Neither KubeVirt nor libvirt writes one, and entity declarations would make values differ
      // between this scanner and libxml2: refuse rather than guess.
      syntaxError(src, i, 'DOCTYPE and markup declarations are not accepted in a domain');
    } else if (src.startsWith('<?', i)) {
      const close = this.skipTo('?>', i + 2, 'processing instruction');
      const isDecl = /^<\?xml[ \t\r\n?]/i.test(src.slice(i, i + 6));
      if (isDecl && i !== (src.startsWith('\uFEFF') ? 1 : 0)) syntaxError(src, i, 'the XML declaration is not at the very start');
      this.i = close + 2;
    }
  }

  /** The name at the cursor, or null (the caller names what it expected). */
  private name(): string | null {
    const { src } = this;
    const start = this.i;
    if (start >= src.length || !isNameStart(src.charCodeAt(start))) return null;
    let j = start + 1;
    while (j < src.length && isNameChar(src.charCodeAt(j))) j++;
    this.i = j;
    return src.slice(start, j);
  }

  private space(): boolean {
    const { src } = this;
    const start = this.i;
    while (this.i < src.length && isSpace(src.charCodeAt(this.i))) this.i++;
    return this.i > start;
  }

  private endTag(): void {
    const start = this.i;
    this.i += 2;
    const name = this.name() ?? syntaxError(this.src, this.i, 'expected an element name after </');
    this.space();
    if (this.src[this.i] !== '>') syntaxError(this.src, this.i, `expected '>' to end </${name}>`);
    this.i += 1;
    const open = this.stack.pop();
    if (open === undefined) syntaxError(this.src, start, `</${name}> closes nothing`);
    if (open.name !== name) syntaxError(this.src, start, `</${name}> does not close <${open.name}>`);
    open.closeStart = start;
    open.end = this.i;
  }

  /** `<name attr='v' ...>` or `/>`; attribute values may hold `>` but, as in libxml2, never `<`. */
  private startTag(): void {
    const { src } = this;
    const start = this.i;
    if (this.root !== null && this.stack.length === 0) syntaxError(src, start, 'there is content after the root element');
    this.i += 1;
    const name = this.name() ?? syntaxError(src, this.i, 'expected an element name after <');
    const parent = this.stack.at(-1) ?? null;
    const { build } = this;
    const el = new ScannedElement(src, name, parent, start, this.i);
    this.tagAttrNames.length = 0;
    this.attrNames?.clear();
    for (;;) {
      const spaced = this.space();
      if (src[this.i] === '>' || src.startsWith('/>', this.i)) break;
      if (this.i >= src.length) syntaxError(src, start, `<${name}> is never closed`);
      if (!spaced) syntaxError(src, this.i, `expected whitespace before an attribute of <${name}>`);
      this.attribute(el);
    }
    el.selfClosing = src[this.i] === '/';
    this.i += el.selfClosing ? 2 : 1;
    el.openEnd = this.i;
    if (parent === null) this.root = el;
    else if (build) parent.addChild(el);
    if (el.selfClosing) {
      el.closeStart = el.end = el.openEnd;
    } else {
      this.stack.push(el);
    }
  }

  /** Reads and checks one attribute; returns it only when reading `values`. */
  private attribute(el: XmlElement): XmlAttr | undefined {
    const { src } = this;
    const start = this.i;
    const name = this.name() ?? syntaxError(src, this.i, `expected an attribute name in <${el.name}>`);
    if (this.seenAttribute(name)) syntaxError(src, start, `attribute '${name}' appears twice in <${el.name}>`);
    this.space();
    if (src[this.i] !== '=') syntaxError(src, this.i, `attribute '${name}' of <${el.name}> has no value`);
    this.i += 1;
    this.space();
    const quote = src[this.i];
    if (quote !== '"' && quote !== "'") syntaxError(src, this.i, `the value of attribute '${name}' is not quoted`);
    const close = src.indexOf(quote, this.i + 1);
    if (close < 0) syntaxError(src, this.i, `attribute '${name}' is never closed`);
    // One pass finds a '<' (refused) and tells whether the value needs decoding at all; most
    // values need none and are then the source text itself.
    let plain = true;
    for (let j = this.i + 1; j < close; j++) {
      const c = src.charCodeAt(j);
      if (c === LESS_THAN) syntaxError(src, j, `'<' inside the value of attribute '${name}'`);
      if (c === AMPERSAND || c === 9 || c === 10 || c === 13) plain = false;
    }
    // Decoding also checks the references, so it runs when only checking too.
    const from = this.i + 1;
    const decoded = plain ? undefined : decodeReferences(src, from, close, normalizeSpaces);
    this.i = close + 1;
    if (!this.values) return undefined;
    return { name, value: decoded ?? src.slice(from, close), start, end: this.i };
  }

  /**
   * Whether the start tag being read already has an attribute `name` (else it now has). A few
   * names are compared one by one (no set to fill for the usual element); past LINEAR_ATTRS a
   * set keeps the start tag linear.
   */
  private seenAttribute(name: string): boolean {
    const names = this.tagAttrNames;
    if (names.length < LINEAR_ATTRS) {
      if (names.includes(name)) return true;
    } else {
      const set = (this.attrNames ??= new Set());
      if (set.size === 0) for (const n of names) set.add(n);
      if (set.has(name)) return true;
      set.add(name);
    }
    names.push(name);
    return false;
  }

  /** Character data: references must resolve, and outside the root only whitespace may appear. */
  private text(): void {
    const { src } = this;
    const next = src.indexOf('<', this.i);
    const end = next < 0 ? src.length : next;
    if (this.stack.length === 0) {
      if (!/^[ \t\r\n]*$/.test(src.slice(this.i, end))) syntaxError(src, this.i, 'text outside the root element');
    } else {
      decodeReferences(src, this.i, end);
      const cdataEnd = src.slice(this.i, end).indexOf(']]>');
      if (cdataEnd >= 0) syntaxError(src, this.i + cdataEnd, "']]>' in text");
    }
    this.i = end;
  }
}

/**
 * Scans `src` into an element tree with source offsets. Throws E_DOMAIN_XML with line and column
 * for anything that is not well-formed XML, and for DOCTYPEs, which no domain carries.
 *
 * @example scanDocument("<domain><devices/></domain>").root.children[0]?.name // 'devices'
 */
export function scanDocument(src: string): XmlDocument {
  return new Scanner(src).scan();
}

/** Throws as scanDocument does, without building the tree: for text that is only checked. */
export function checkDocument(src: string): void {
  new Scanner(src, false).scan();
}

/** The value of attribute `name`, or undefined. */
export function attr(el: XmlElement, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

/** Direct children named `name`, in document order. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
