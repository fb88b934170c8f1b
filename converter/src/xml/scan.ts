// Pure. Reads a whole XML document into an element tree that remembers where every element and
// attribute sits in the source text, so a rewrite can splice new text in and keep every other
// byte. The parsing is saxes' (a maintained, conformant XML 1.0 parser that reports its position),
// in place of the scanner written here before; this module only builds the tree from its events,
// words its errors as E_DOMAIN_XML with line and column, and refuses what saxes accepts but a
// domain must not hold (DOCTYPEs, lone surrogates, names outside the BMP).
import { SaxesParser, type SaxesTagPlain } from 'saxes';
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
  readonly openEnd: number;
  /** Offset of `</` (equals openEnd for a self-closing element). */
  readonly closeStart: number;
  /** Offset just past the element. */
  readonly end: number;
  readonly selfClosing: boolean;
}

export interface XmlDocument {
  readonly root: XmlElement;
  /** The document's own line break, reused for inserted lines. */
  readonly newline: '\n' | '\r\n';
}

// Forced 1.0: a declaration saying 1.1 would make saxes take U+0085 and U+2028 for line breaks.
type Options = { xmlns: false; forceXMLVersion: true; defaultXMLVersion: '1.0' };
const OPTIONS: Options = { xmlns: false, forceXMLVersion: true, defaultXMLVersion: '1.0' };
const HINT = 'pass the domain XML as KubeVirt or virsh dumpxml writes it';
const DOCTYPE = 'DOCTYPE and markup declarations are not accepted in a domain';
const UNKNOWN_ENTITY = "'&' starts no entity this parser knows (only &lt; &gt; &amp; &apos; &quot; and &#N;)";
// Characters XML 1.0 forbids anywhere, and every surrogate (pairs are let through below).
const NON_XML_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\uD800-\uDFFF]/g;
const SURROGATE = /[\uD800-\uDFFF]/;

export function lineAndColumn(src: string, offset: number): { line: number; column: number } {
  const before = src.slice(0, offset);
  const lastBreak = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastBreak };
}

/**
 * The offsets come from saxes' position at its events; the rewrite splices text at them and
 * parses nothing after, so one that does not hold the markup it names stops the rewrite here.
 */
function misplaced(name: string, offset: number): never {
  throw new ConverterError('E_DOMAIN_XML', `domain XML: <${name}> is not where the parser's position puts it (offset ${offset}; a converter bug)`, { hint: HINT });
}

function syntaxError(src: string, offset: number, problem: string): never {
  const { line, column } = lineAndColumn(src, offset);
  throw new ConverterError('E_DOMAIN_XML', `domain XML line ${line}, column ${column}: ${problem}`, { hint: HINT });
}

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 9 || c === 13;

/**
 * Refuses the characters XML forbids with their code point, before saxes reads anything: saxes
 * takes a lone high surrogate for the first half of a pair. Returns whether there are pairs,
 * that is characters outside the BMP, which names must then be checked for.
 */
function checkCharacters(src: string): boolean {
  let astral = false;
  NON_XML_CHAR.lastIndex = 0;
  for (let m = NON_XML_CHAR.exec(src); m !== null; m = NON_XML_CHAR.exec(src)) {
    const at = m.index;
    const c = src.charCodeAt(at);
    const next = src.charCodeAt(at + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      astral = true;
      NON_XML_CHAR.lastIndex = at + 2;
      continue;
    }
    syntaxError(src, at, `character U+${c.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`);
  }
  return astral;
}

/**
 * The attributes of a start tag saxes has accepted, from just past its name: `name = 'value'`
 * with optional blanks. Only offsets are read here, as saxes checked the syntax; a value is its
 * own text unless it holds a reference, tab or line break, which saxes then decodes. Without
 * `decode` (for messages about a start tag saxes refused), values are left empty.
 */
function readAttributes(src: string, from: number, decode = true): XmlAttr[] {
  const attrs: XmlAttr[] = [];
  let i = from;
  for (;;) {
    while (isSpace(src.charCodeAt(i))) i++;
    const start = i;
    let c = src.charCodeAt(i);
    if (Number.isNaN(c) || c === 62 /* > */ || c === 47 /* / */) return attrs;
    while (!isSpace(c) && c !== 61 /* = */ && !Number.isNaN(c)) c = src.charCodeAt(++i);
    const name = src.slice(start, i);
    while (src.charCodeAt(i) !== 61 && i < src.length) i++;
    i++;
    while (isSpace(src.charCodeAt(i))) i++;
    const quote = src.charCodeAt(i);
    let plain = true;
    let j = i + 1;
    for (; j < src.length && (c = src.charCodeAt(j)) !== quote; j++) if (c === 38 /* & */ || c === 9 || c === 10 || c === 13) plain = false;
    const value = !decode ? '' : plain ? src.slice(i + 1, j) : decodedValue(src.slice(i, j + 1));
    i = j + 1;
    attrs.push({ name, value, start, end: i });
  }
}

/** saxes' value for `quoted`, an attribute value with its quotes. */
function decodedValue(quoted: string): string {
  let value = '';
  const parser = new SaxesParser<Options>(OPTIONS);
  parser.on('opentag', (tag) => void (value = tag.attributes['v'] ?? ''));
  parser.write(`<a v=${quoted}/>`).close();
  return value;
}

/** Markup saxes reports to no handler here, each with what ends it. */
const SKIPPED: readonly (readonly [string, string])[] = [
  ['<!--', '-->'],
  ['<![CDATA[', ']]>'],
  ['<?', '?>'],
];

/** What to say about markup at `lt` that the text ends inside of. */
function unfinishedMarkup(src: string, lt: number): string {
  if (src.startsWith('<!--', lt)) return 'comment is never closed';
  if (src.startsWith('<![CDATA[', lt)) return 'CDATA section is never closed';
  if (src.startsWith('<!', lt)) return DOCTYPE;
  if (src.startsWith('<?', lt)) return 'processing instruction is never closed';
  if (src.startsWith('</', lt)) return 'an end tag is never closed';
  return `<${/^[^\s/>]*/.exec(src.slice(lt + 1, lt + 200))?.[0] ?? ''}> is never closed`;
}

// Shared by every element without children until its first one: most elements are leaves.
const NO_CHILDREN: XmlElement[] = [];

/**
 * An element as saxes read it. Its attributes are read again from the start tag on first use: the
 * rewrite asks for those of a few elements only, and a tree that keeps saxes' attribute map of
 * every element is copied by the garbage collector while the parse runs.
 */
class ParsedElement implements XmlElement {
  openEnd = 0;
  closeStart = 0;
  end = 0;
  selfClosing = false;
  children: XmlElement[] = NO_CHILDREN;
  private attributes: XmlAttr[] | undefined;

  constructor(
    private readonly src: string,
    readonly name: string,
    readonly parent: ParsedElement | null,
    readonly start: number,
    readonly nameEnd: number,
  ) {}

  addChild(child: XmlElement): void {
    if (this.children === NO_CHILDREN) this.children = [];
    this.children.push(child);
  }

  get attrs(): XmlAttr[] {
    this.attributes ??= readAttributes(this.src, this.nameEnd);
    return this.attributes;
  }
}

/** Builds the tree from saxes' events; throws E_DOMAIN_XML for its errors and for ours. */
class TreeBuilder {
  private readonly parser = new SaxesParser<Options>(OPTIONS);
  /** The innermost element whose end tag is still to come. */
  private open: ParsedElement | null = null;
  private root: ParsedElement | null = null;
  /** The element whose start tag saxes read last (the one its attribute errors concern). */
  private current: ParsedElement | null = null;
  /** Offset just past the last tag saxes reported. */
  private cursor = 0;

  constructor(
    private readonly src: string,
    private readonly astral: boolean,
  ) {
    // Five handlers, no more: saxes keeps them as properties that on() adds to the parser, and
    // from the eighth on V8 makes it a dictionary-mode object that parses seven times slower.
    const p = this.parser;
    p.on('opentagstart', (tag) => this.openTagStart(tag.name));
    p.on('opentag', (tag) => this.openTag(tag));
    p.on('closetag', (tag) => this.closeTag(tag));
    // Reported at its end, before any content: saxes defines no entity from it, and none is read.
    p.on('doctype', () => syntaxError(this.src, this.openMarkup(0, false)?.[0] ?? 0, DOCTYPE));
    p.on('error', (err) => this.fail(err.message.replace(/^\d+:\d+: /, '')));
  }

  build(): XmlDocument {
    this.parser.write(this.src).close();
    const { root } = this;
    if (root === null) syntaxError(this.src, 0, 'there is no root element');
    return { root, newline: this.src.includes('\r\n') ? '\r\n' : '\n' };
  }

  /** Names outside the BMP: XML 1.0 allows them, the validator and tree of tree.ts refuse them. */
  private checkName(name: string, offset: number, what: string): void {
    if (SURROGATE.test(name)) syntaxError(this.src, offset, `${what} has a name character outside the Basic Multilingual Plane`);
  }

  private openTagStart(name: string): void {
    const { src, open } = this;
    // saxes reports this after reading the character that ends the name (two for CR LF).
    const at = this.parser.position;
    const nameEnd = src.charCodeAt(at - 1) === 10 && src.charCodeAt(at - 2) === 13 ? at - 2 : at - 1;
    const start = nameEnd - name.length - 1;
    if (src.charCodeAt(start) !== 60 /* < */) misplaced(name, start);
    if (open === null && this.root !== null) syntaxError(src, start, 'there is content after the root element');
    if (this.astral) this.checkName(name, start + 1, `element <${name}>`);
    const el = new ParsedElement(src, name, open, start, nameEnd);
    if (open === null) this.root = el;
    else open.addChild(el);
    this.current = el;
  }

  private openTag(tag: SaxesTagPlain): void {
    const el = this.current;
    if (el === null) return;
    el.openEnd = this.cursor = this.parser.position;
    if (this.src.charCodeAt(el.openEnd - 1) !== 62 /* > */) misplaced(el.name, el.openEnd);
    if (this.astral) for (const name in tag.attributes) this.checkName(name, el.start, `attribute '${name}' of <${el.name}>`);
    el.selfClosing = tag.isSelfClosing;
    if (el.selfClosing) el.closeStart = el.end = el.openEnd;
    else this.open = el;
  }

  /** Offset of the `</` of the end tag that ends at `end` (`</name S?>`), read back from the text. */
  private endTagStart(end: number): number {
    const { src } = this;
    let j = end - 1;
    while (isSpace(src.charCodeAt(j - 1))) j--;
    while (j > 0 && src.charCodeAt(j - 1) !== 47 /* / */) j--;
    return j - 2;
  }

  private closeTag(tag: SaxesTagPlain): void {
    const el = this.open;
    if (tag.isSelfClosing || el === null) return;
    const { src } = this;
    const end = (this.cursor = this.parser.position);
    if (src.charCodeAt(end - 1) !== 62 /* > */) misplaced(el.name, end);
    let nameEnd = end - 1;
    while (isSpace(src.charCodeAt(nameEnd - 1))) nameEnd--;
    const closeStart = nameEnd - el.name.length - 2;
    // saxes calls this for the innermost open element before it compares the names.
    if (src.charCodeAt(closeStart + 1) !== 47 /* / */ || src.charCodeAt(closeStart) !== 60 /* < */ || !src.startsWith(el.name, closeStart + 2)) {
      const actual = this.endTagStart(end);
      syntaxError(src, actual, `</${src.slice(actual + 2, nameEnd)}> does not close <${el.name}>`);
    }
    el.closeStart = closeStart;
    el.end = end;
    this.open = el.parent;
  }

  /**
   * From `from`, past finished comments, CDATA sections and processing instructions (saxes
   * reports them to no handler here), the first markup that is something else or is never
   * finished, with what to say about it if it is unfinished; with `entities`, an earlier
   * reference that no ';' ever ends (saxes reads it to the end of the text, over any markup).
   */
  private openMarkup(from: number, entities: boolean): [number, string] | undefined {
    const { src } = this;
    let amp = entities ? src.indexOf('&', Math.max(from, src.lastIndexOf(';') + 1)) : -1;
    for (let i = from; ; ) {
      const lt = src.indexOf('<', i);
      if (amp >= 0 && amp < i) amp = src.indexOf('&', i);
      if (amp >= 0 && (lt < 0 || amp < lt)) return [amp, UNKNOWN_ENTITY];
      if (lt < 0) return undefined;
      const closer = SKIPPED.find(([open]) => src.startsWith(open, lt));
      const close = closer === undefined ? -1 : src.indexOf(closer[1], lt + closer[0].length);
      if (closer === undefined || close < 0) return [lt, unfinishedMarkup(src, lt)];
      i = close + closer[1].length;
    }
  }

  /** Throws E_DOMAIN_XML for a saxes error, in this module's words where it has them. */
  private fail(problem: string): never {
    const { src } = this;
    const at = Math.max(0, this.parser.position - 1);
    const el = this.current;
    const inTag = `<${el?.name ?? ''}>`;
    // Errors at the end of the text (saxes' end()): name the markup left open.
    if (problem.startsWith('unclosed tag: ') || problem === 'unexpected end.' || problem === 'document must contain a root element.') {
      const left = this.openMarkup(this.cursor, true);
      if (left !== undefined) syntaxError(src, left[0], left[1]);
      const { open } = this;
      if (open !== null) syntaxError(src, open.start, `<${open.name}> is never closed`);
      syntaxError(src, 0, 'there is no root element');
    }
    // A DOCTYPE saxes stopped in before reporting it.
    const prolog = this.root === null ? this.openMarkup(0, false) : undefined;
    if (prolog !== undefined && src.startsWith('<!DOCTYPE', prolog[0])) syntaxError(src, prolog[0], DOCTYPE);
    switch (problem) {
      case 'disallowed character.': {
        // checkCharacters has refused every other character saxes refuses with this message.
        if (src.charCodeAt(at) !== 60 || el === null) break;
        const inValue = readAttributes(src, el.nameEnd, false).find((a) => a.end > at);
        syntaxError(src, at, `'<' inside the value of attribute '${inValue?.name ?? '?'}' of ${inTag}`);
      }
      case 'undefined entity.':
      case 'disallowed character in entity name.':
      case 'empty entity name.':
        syntaxError(src, src.lastIndexOf('&', at), UNKNOWN_ENTITY);
      case 'malformed character entity.': {
        const amp = src.lastIndexOf('&', at);
        syntaxError(src, amp, `character reference ${src.slice(amp, at + 1)} is not an XML character`);
      }
      case 'malformed comment.':
        syntaxError(src, at, "a comment contains '--'");
      case 'text data outside of root node.':
        if (src.startsWith('<![CDATA[', at - 8)) syntaxError(src, at - 8, 'CDATA outside the root element');
        syntaxError(src, at, 'text outside the root element');
      case 'documents may contain only one root.':
        syntaxError(src, at, 'there is content after the root element');
      case 'incorrect syntax.':
      case 'inappropriately located doctype declaration.':
        syntaxError(src, src.lastIndexOf('<!', at), DOCTYPE);
      case 'an XML declaration must be at the start of the document.':
      case 'the XML declaration must appear at the start of the document.':
        syntaxError(src, src.lastIndexOf('<?', at), 'the XML declaration is not at the very start');
      case 'the string "]]>" is disallowed in char data.':
        syntaxError(src, at - 2, "']]>' in text");
      case 'disallowed character in tag name':
        syntaxError(src, at, 'expected an element name after <');
      case 'disallowed character in tag name.':
        syntaxError(src, at, `unexpected character '${String.fromCodePoint(src.codePointAt(at) ?? 0)}' after the name in ${inTag}`);
      case 'disallowed character in attribute name.':
        syntaxError(src, at, `expected an attribute name in ${inTag}`);
      case 'no whitespace between attributes.':
        syntaxError(src, at, `expected whitespace before an attribute of ${inTag}`);
      case 'attribute without value.':
        syntaxError(src, at, `an attribute of ${inTag} has no value`);
      case 'unquoted attribute value.':
        syntaxError(src, at, `an attribute value of ${inTag} is not quoted`);
      case 'forward-slash in opening tag not followed by >.':
        syntaxError(src, at, `expected '>' after '/' in ${inTag}`);
      case 'weird empty close tag.':
        syntaxError(src, at, 'expected an element name after </');
      case 'disallowed character in closing tag.':
        syntaxError(src, at, "expected '>' to end an end tag");
      default:
    }
    const duplicate = /^duplicate attribute: (.*)\.$/s.exec(problem);
    if (duplicate !== null && el !== null) {
      // saxes finds it at the end of the start tag; the second occurrence is where it went wrong.
      const second = readAttributes(src, el.nameEnd, false).filter((a) => a.name === duplicate[1])[1];
      syntaxError(src, second?.start ?? at, `attribute '${duplicate[1]}' appears twice in ${inTag}`);
    }
    const unmatched = /^unmatched closing tag: (.*)\.$/s.exec(problem);
    if (unmatched !== null) syntaxError(src, this.endTagStart(at + 1), `</${unmatched[1]}> closes nothing`);
    syntaxError(src, at, problem.replace(/\.$/, ''));
  }
}

/**
 * Parses `src` into an element tree with source offsets. Throws E_DOMAIN_XML with line and column
 * for anything that is not well-formed XML, and for DOCTYPEs, which no domain carries.
 *
 * @example scanDocument("<domain><devices/></domain>").root.children[0]?.name // 'devices'
 */
export function scanDocument(src: string): XmlDocument {
  return new TreeBuilder(src, checkCharacters(src)).build();
}

/** The value of attribute `name`, or undefined. */
export function attr(el: XmlElement, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

/** Direct children named `name`, in document order. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
