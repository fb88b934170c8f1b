// scan.ts, the glue between saxes and the rewrite: the offsets it derives from saxes' positions
// hold the markup they name in every layout (CR LF, blanks in end tags, a byte-order mark), values
// are decoded as an XML parser reports them, and what it refuses is refused with line and column.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { attr, scanDocument, type XmlElement } from '../../converter/src/xml/scan.js';

const converterError = (message: RegExp): unknown => expect.objectContaining({ name: 'ConverterError', code: 'E_DOMAIN_XML', message: expect.stringMatching(message) });

function all(el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(all)];
}

/** Every offset of every element and attribute holds what it says, read back from the text. */
function expectOffsetsHold(src: string): void {
  for (const el of all(scanDocument(src).root)) {
    expect(src.slice(el.start, el.nameEnd)).toBe(`<${el.name}`);
    const startTag = src.slice(el.start, el.openEnd);
    expect(startTag).toMatch(el.selfClosing ? /\/>$/ : /[^/]>$/);
    if (el.selfClosing) {
      expect([el.closeStart, el.end]).toEqual([el.openEnd, el.openEnd]);
    } else {
      expect(src.slice(el.closeStart, el.end)).toMatch(new RegExp(`^</${el.name}[ \\t\\r\\n]*>$`));
    }
    for (const child of el.children) {
      expect(child.start).toBeGreaterThanOrEqual(el.openEnd);
      expect(child.end).toBeLessThanOrEqual(el.closeStart);
    }
    for (const a of el.attrs) {
      expect(src.slice(a.start, a.start + a.name.length)).toBe(a.name);
      expect(a.start).toBeGreaterThan(el.nameEnd);
      expect(a.end).toBeLessThan(el.openEnd);
      expect(src[a.end - 1]).toMatch(/['"]/);
    }
  }
}

describe('scanDocument, the element tree the rewrite splices into', () => {
  const dir = new URL('../../fixtures/domains/', import.meta.url);
  const fixtures = readdirSync(dir).filter((f) => f.endsWith('.xml'));

  it.each(fixtures)('gives offsets that hold their markup in %s, with LF, with CR LF and after a byte-order mark', (file) => {
    const xml = readFileSync(new URL(file, dir), 'utf8');
    for (const src of [xml, xml.replace(/\n/g, '\r\n'), `\uFEFF${xml}`]) expectOffsetsHold(src);
  });

  it('finds names ended by blanks or line breaks, and end tags with blanks before their >', () => {
    const src = "<domain\r\n  type='kvm'\r\n><devices\t><interface\ntype = \"x\"\r\n/></devices \r\n></domain\t>";
    expectOffsetsHold(src);
    const { root, newline } = scanDocument(src);
    expect(newline).toBe('\r\n');
    const devices = root.children[0];
    expect(devices?.name).toBe('devices');
    expect(devices?.children[0]?.attrs).toEqual([{ name: 'type', value: 'x', start: src.indexOf('type = '), end: src.indexOf('"\r\n/>') + 1 }]);
  });

  it('reports values decoded and normalized, as libxml2 reads them', () => {
    const { root } = scanDocument(`<domain a='&lt;&amp;&#x1F600;&#10;' b="x\ty\r\nz" c='"' d="'"/>`);
    expect(root.attrs.map((a) => [a.name, a.value])).toEqual([
      ['a', '<&\u{1F600}\n'],
      ['b', 'x y z'],
      ['c', '"'],
      ['d', "'"],
    ]);
    expect(attr(root, 'b')).toBe('x y z');
    expect(attr(root, 'e')).toBeUndefined();
  });

  it('accepts an empty comment, which libxml2 accepts too (the scanner before saxes refused it)', () => {
    expect(scanDocument('<domain><!----><devices/></domain>').root.children.map((c) => c.name)).toEqual(['devices']);
  });
});

describe('scanDocument refuses', () => {
  it.each([
    ['a DOCTYPE, at its start and before any entity is read', "<?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE d [<!ENTITY a 'aaaa'>]><d>&a;</d>", /line 3, column 1: DOCTYPE/],
    ['an external entity', "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><d>&x;</d>", /line 1, column 1: DOCTYPE/],
    ['a DOCTYPE that saxes stops in', '<!DOCTYPE d [<!-- a -- b -->]><d/>', /line 1, column 1: DOCTYPE/],
    ['a DOCTYPE that never ends', '<!DOCTYPE d [', /line 1, column 1: DOCTYPE/],
    ['a declaration inside the root', '<d><!ENTITY e "x"></d>', /line 1, column 4: DOCTYPE/],
    ['a lone high surrogate, which saxes would take for half a pair', '<d>\uD800a</d>', /line 1, column 4: character U\+D800 is not allowed/],
    ['a control character', '<d>\u0001</d>', /line 1, column 4: character U\+0001 is not allowed/],
    ['an element name outside the BMP', '<d><\u{1F600}/></d>', /line 1, column 5: element <\u{1F600}> has a name character outside the Basic Multilingual Plane/u],
    ['a second root', '<d/>\n<d/>', /line 2, column 1: there is content after the root element/],
    ['text after the root', '<d/>x', /line 1, column \d+: text outside the root element/],
    ['CDATA before the root', '<![CDATA[x]]><d/>', /line 1, column 1: CDATA outside the root element/],
    ['an end tag that closes another element', '<d>\n  <a></b></d>', /line 2, column 6: <\/b> does not close <a>/],
    ['an end tag that closes nothing', '<d/></x>', /line 1, column 5: <\/x> closes nothing/],
    ['an element left open', '<d><a>', /line 1, column 4: <a> is never closed/],
    ['a start tag left open', "<d><a b='c", /line 1, column 4: <a> is never closed/],
    ['a comment left open after finished ones', '<d><!-- a --><?p x?><!-- b', /line 1, column 21: comment is never closed/],
    ['a reference that no semicolon ends', '<d>&x <!-- c --> </d>', /line 1, column 4: '&' starts no entity/],
    ['an entity it does not know', '<d>&nbsp;</d>', /line 1, column 4: '&' starts no entity/],
    ['a character reference to a non-character', "<d a='&#1;'/>", /line 1, column 7: character reference &#1; is not an XML character/],
    ["'<' in a value", "<d a='1' b='x<y'/>", /line 1, column 14: '<' inside the value of attribute 'b' of <d>/],
    ['a repeated attribute, where it repeats', "<d a='1' b='2' a='3'/>", /line 1, column 16: attribute 'a' appears twice in <d>/],
    ["'--' in a comment", '<d><!-- a -- b --></d>', /line 1, column \d+: a comment contains '--'/],
    ["']]>' in text", '<d>]]></d>', /line 1, column 4: ']]>' in text/],
    ['an XML declaration after the start', ' <?xml version="1.0"?><d/>', /line 1, column 2: the XML declaration is not at the very start/],
    ['a processing instruction without a target, as libxml2 does', '<d><? x?></d>', /line 1, column \d+: processing instruction without a target/],
    ['an empty document', '', /line 1, column 1: there is no root element/],
  ])('%s', (_what, src, message) => {
    expect(() => scanDocument(src)).toThrow(converterError(message));
  });
});
