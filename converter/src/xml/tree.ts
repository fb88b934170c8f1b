// Pure. The one module that imports fast-xml-parser, for its order-preserving tree, with which
// callers and tests compare documents. The rewrite does not use it: saxes (scan.ts) reads domains.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ConverterError } from '../errors.js';

/** An order-preserving fast-xml-parser node: `{ tag: XmlTreeNode[], ':@'?: attributes }`, `#text`, `#comment` or `#cdata`. */
export type XmlTreeNode = Record<string, unknown>;

// Raw values everywhere (no entity decoding, no trimming, no number parsing): the tree then shows
// exactly what the text says, so two trees are equal only if the documents say the same thing.
const PARSER = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: false,
  ignorePiTags: false,
});

/** Throws E_DOMAIN_XML, with line and column, unless fast-xml-parser's validator accepts `xml`. */
export function assertWellFormed(xml: string): void {
  const result = XMLValidator.validate(xml, { allowBooleanAttributes: false });
  if (result === true) return;
  const { line, col, msg } = result.err;
  throw new ConverterError('E_DOMAIN_XML', `domain XML line ${line}, column ${col}: ${msg}`, {
    hint: 'pass the domain XML as KubeVirt or virsh dumpxml writes it',
  });
}

/**
 * The document as fast-xml-parser's order-preserving tree, values left raw.
 *
 * @example parseXmlTree("<a x='1'/>") // [{ a: [], ':@': { '@_x': '1' } }]
 */
export function parseXmlTree(xml: string): XmlTreeNode[] {
  assertWellFormed(xml);
  return PARSER.parse(xml) as XmlTreeNode[];
}
