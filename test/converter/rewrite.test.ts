import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { parseXmlTree, planDomainEdits, rewriteDomain, type XmlTreeNode } from '../../converter/src/xml/index.js';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8');
const samples = JSON.parse(fixture('domains/interfaces.json')) as Record<string, ResolvedInterface>;
const dpdk0 = samples['server-full'] as ResolvedInterface;
const net2 = samples['client-reconnect'] as ResolvedInterface;
const ours = [dpdk0, net2];
// libvirt refuses a per-device boot order where <os><boot dev> is set (as in libvirt's and Kube-OVN's samples).
const { bootOrder: _boot, ...dpdk0Unordered } = dpdk0;
const oursFor = (xml: string): ResolvedInterface[] => (/<boot dev=/.test(xml) ? [dpdk0Unordered, net2] : ours);
const OUR_ALIASES = new Set(['ua-dpdk0', 'ua-net2']);

const DOMAINS = ['kubevirt-x86_64', 'kubevirt-hooks', 'libvirt-net-vhostuser', 'libvirt-net-vhostuser-multiq', 'kubeovn-dpdk-vm', 'busy', 'numa'];
const domain = (name: string): string => fixture(`domains/${name}.xml`);

/** Matches a thrown ConverterError with this code (and these other fields). */
const converterError = (code: string, more: Record<string, unknown> = {}): unknown => expect.objectContaining({ name: 'ConverterError', code, ...more });
const forIface = (iface: string): unknown => expect.objectContaining({ iface });

type Node = XmlTreeNode & { ':@'?: Record<string, string> };
const tagOf = (n: Node): string => Object.keys(n).find((k) => k !== ':@') ?? '';
const kids = (n: Node): Node[] => (Array.isArray(n[tagOf(n)]) ? (n[tagOf(n)] as Node[]) : []);

/**
 * The parsed tree minus what the rewrite owns: our interfaces, <access mode='shared'/>, a
 * memoryBacking left empty by that, memAccess='shared', and whitespace-only text.
 */
function withoutOurParts(nodes: Node[]): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    const tag = tagOf(n);
    if (tag === '#text' && /^\s*$/.test(String(n['#text']))) continue;
    const children = withoutOurParts(kids(n));
    if (tag === 'interface' && children.some((c) => tagOf(c) === 'alias' && OUR_ALIASES.has(c[':@']?.['@_name'] ?? ''))) continue;
    if (tag === 'access' && n[':@']?.['@_mode'] === 'shared') continue;
    if (tag === 'memoryBacking' && children.length === 0) continue;
    const attrs = { ...n[':@'] };
    if (tag === 'cell' && attrs['@_memAccess'] === 'shared') delete attrs['@_memAccess'];
    const copy: Node = tag.startsWith('#') ? { ...n } : { [tag]: children };
    if (Object.keys(attrs).length > 0) copy[':@'] = attrs;
    out.push(copy);
  }
  return out;
}

describe('rewriteDomain on real domains', () => {
  it.each(DOMAINS)('writes %s as in its golden file', async (name) => {
    await expect(rewriteDomain(domain(name), oursFor(domain(name)))).toMatchFileSnapshot(`../../fixtures/domains/expected/rewrite-${name}.xml`);
  });

  it.each(DOMAINS)('returns no edits and the same bytes when run on its own output (%s)', (name) => {
    const ifaces = oursFor(domain(name));
    const once = rewriteDomain(domain(name), ifaces);
    expect(planDomainEdits(once, ifaces)).toEqual([]);
    expect(rewriteDomain(once, ifaces)).toBe(once);
  });

  it.each(DOMAINS)('changes nothing but our interfaces and shared memory (%s, parsed trees)', (name) => {
    const before = withoutOurParts(parseXmlTree(domain(name)) as Node[]);
    const after = withoutOurParts(parseXmlTree(rewriteDomain(domain(name), oursFor(domain(name)))) as Node[]);
    expect(after).toEqual(before);
  });

  it.each(DOMAINS)('keeps every other byte: each edit inserts or replaces only our parts (%s)', (name) => {
    const src = domain(name);
    for (const edit of planDomainEdits(src, oursFor(src))) {
      const replaced = src.slice(edit.start, edit.end);
      expect(replaced === '' || /^<interface[^]*<alias name=["']ua-dpdk0["']/.test(replaced), replaced).toBe(true);
      expect(edit.text).toMatch(/^(\s*<interface type='vhostuser'>[^]*<\/interface>)+$|^\s*<memoryBacking>|^\s*<access mode='shared'\/>\s*$|^ memAccess='shared'$/);
    }
  });

  it('replaces a stale interface of ours in place and keeps the other hooks\' interfaces and comments', () => {
    const out = rewriteDomain(domain('busy'), ours);
    const aliases = [...out.matchAll(/<alias name=["']([^"']+)["']/g)].map((m) => m[1]);
    expect(aliases).toEqual(['ua-default', 'ua-sriov0', 'ua-dpdk0', 'ua-net2', 'ua-rootdisk']);
    expect(out).not.toContain('stale-net1');
    for (const kept of [
      '<?xml version="1.0" encoding="UTF-8"?>\n<!-- A domain as KubeVirt writes it',
      '    <!-- written by the SR-IOV hook: must survive untouched -->\n    <interface type=\'hostdev\' managed=\'yes\'>',
      '<description><![CDATA[tenant <blue> & "red" networks]]></description>',
      '<qemu:arg value="name=opt/tenant,string=blue&amp;red &#x27;quoted&#39; &lt;ok&gt;"/>',
      '<domain type="kvm" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0">',
      '      <page size="2048" unit="KiB"/>\n    </hugepages>\n    <access mode=\'shared\'/>\n  </memoryBacking>',
    ]) {
      expect(out).toContain(kept);
    }
  });

  it('adds <memoryBacking> after <memory> and our interfaces after KubeVirt\'s', () => {
    const out = rewriteDomain(domain('kubevirt-x86_64'), ours);
    expect(out).toContain('<memory unit="b">8388608</memory>\n  <memoryBacking>\n    <access mode=\'shared\'/>\n  </memoryBacking>\n  <os>');
    expect(out).toContain('<rom enabled="no"></rom>\n    </interface>\n    <interface type=\'vhostuser\'>\n      <mac address=\'02:00:00:0a:30:89\'/>');
  });

  it('marks every NUMA cell shared and leaves <memoryBacking> alone', () => {
    const out = rewriteDomain(domain('numa'), ours);
    expect(out).toContain('<cell id="0" cpus="0-7" memory="2097152" unit="KiB" memAccess=\'shared\'/>');
    expect(out).toContain('<cell id="1" cpus="8-15" memory="2097152" unit="KiB" memAccess=\'shared\'></cell>');
    expect(out).not.toContain('<access');
  });

  it('converges: a second run with changed values replaces our interfaces in place', () => {
    for (const name of DOMAINS) {
      const ifaces = oursFor(domain(name));
      const moved = ifaces.map((i) => ({ ...i, socketPath: `${i.socketPath}-old`, mac: '02:00:00:00:00:99', mtu: 1500 }));
      expect(rewriteDomain(rewriteDomain(domain(name), [moved[0] as ResolvedInterface, net2]), ifaces)).toBe(rewriteDomain(domain(name), ifaces));
    }
  });

  it('returns the domain unchanged when there are no interfaces', () => {
    for (const name of DOMAINS) expect(rewriteDomain(domain(name), [])).toBe(domain(name));
  });
});

const dom = (inner: string, devices = '<devices></devices>'): string => `<domain type='kvm'><name>d</name><memory>1</memory>${inner}${devices}</domain>`;

describe('rewriteDomain and shared memory', () => {
  it.each([
    ['creates <memoryBacking> after <memory>', dom(''), "<memory>1</memory><memoryBacking><access mode='shared'/></memoryBacking>"],
    ['opens a self-closing <memoryBacking>', dom('<memoryBacking/>'), "<memoryBacking><access mode='shared'/></memoryBacking>"],
    ['puts <access> before <allocation> and <discard>', dom('<memoryBacking><hugepages/><allocation mode="immediate"/><discard/></memoryBacking>'), `<hugepages/><access mode='shared'/><allocation`],
    ['adds a mode to a bare <access/>', dom('<memoryBacking><access/></memoryBacking>'), "<access mode='shared'/>"],
    ['marks only the cells without memAccess', dom('<cpu><numa><cell id="0" memAccess="shared"/><cell id="1"/></numa></cpu>'), `<cell id="0" memAccess="shared"/><cell id="1" memAccess='shared'/>`],
  ])('%s', (_label, src, expected) => {
    const out = rewriteDomain(src, [net2]);
    expect(out).toContain(expected);
    expect(rewriteDomain(out, [net2])).toBe(out);
  });

  it.each([
    ['shared <access> with NUMA cells that inherit it', dom('<memoryBacking><access mode="shared"/></memoryBacking><cpu><numa><cell id="0"/></numa></cpu>')],
    ['every cell already shared', dom('<cpu><numa><cell id="0" memAccess="shared"/></numa></cpu>')],
  ])('leaves memory alone with %s', (_label, src) => {
    expect(planDomainEdits(src, [net2]).map((e) => e.text).join('')).not.toMatch(/access|memAccess/i);
  });

  it('refuses private memory backing, naming both sides', () => {
    expect(() => rewriteDomain(dom('<memoryBacking><access mode="private"/></memoryBacking>'), ours)).toThrow(
      converterError('E_MEMORY_PRIVATE', {
        message:
          "the domain sets <memoryBacking><access mode='private'/>, but vhost-user interfaces 'dpdk0', 'net2' need shared guest memory (hint: remove the private setting or make it 'shared'; the backend cannot map private guest memory)",
      }),
    );
  });

  it('refuses a private NUMA cell, naming the cell and the interface', () => {
    expect(() => rewriteDomain(dom('<cpu><numa><cell id="0"/><cell id="1" memAccess="private"/></numa></cpu>'), [net2])).toThrow(
      converterError('E_MEMORY_PRIVATE', {
        details: forIface('net2'),
        message: expect.stringContaining("memAccess='private' on NUMA cell id='1', but vhost-user interface 'net2' needs shared guest memory"),
      }),
    );
  });
});

describe('rewriteDomain layout', () => {
  it('stays on one line in a one-line domain', () => {
    const out = rewriteDomain(dom(''), [net2]);
    expect(out).not.toContain('\n');
    expect(out).toContain("<devices><interface type='vhostuser'><mac address='52:54:00:ee:96:7d'/><source");
  });

  it('opens a self-closing <devices/> with the document\'s indentation', () => {
    const src = "<domain type='kvm'>\n\t<name>d</name>\n\t<devices/>\n</domain>\n";
    const out = rewriteDomain(src, [net2]);
    expect(out).toContain("\t<devices>\n\t\t<interface type='vhostuser'>\n\t\t\t<mac address=");
    expect(out).toContain('\t\t</interface>\n\t</devices>\n</domain>\n');
    expect(rewriteDomain(out, [net2])).toBe(out);
  });

  it('keeps CRLF line breaks', () => {
    const src = domain('libvirt-net-vhostuser').replace(/\n/g, '\r\n');
    const out = rewriteDomain(src, oursFor(src));
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expect(out).toBe(rewriteDomain(domain('libvirt-net-vhostuser'), oursFor(src)).replace(/\n/g, '\r\n'));
  });

  it('adds after comments inside an otherwise empty <devices>', () => {
    const src = '<domain>\n  <devices>\n    <!-- none yet -->\n  </devices>\n</domain>';
    const out = rewriteDomain(src, [net2]);
    expect(out).toMatch(/<!-- none yet -->\n    <interface type='vhostuser'>[^]*<\/interface>\n  <\/devices>/);
    expect(rewriteDomain(out, [net2])).toBe(out);
  });
});

describe('rewriteDomain on bad input', () => {
  it.each([
    ['an unclosed element', '<domain><devices></domain>', /line 1, column \d+: .*devices/],
    ['no <devices>', '<domain><name>d</name></domain>', /no <devices> element/],
    ['two <devices>', '<domain><devices/><devices/></domain>', /2 <devices> elements/],
    ['another root element', '<network><devices/></network>', /root element is <network>/],
    ['a DOCTYPE', '<!DOCTYPE domain [<!ENTITY e "x">]><domain><devices/></domain>', /DOCTYPE/],
    ['text after the root', '<domain><devices/></domain>junk', /Extra text|after the root|outside the root/],
    ['two roots', '<domain><devices/></domain><domain/>', /after the root/],
    ["'<' in an attribute", "<domain x='<'><devices/></domain>", /'<' inside the value/],
    ['an undefined entity', '<domain><name>&nbsp;</name><devices/></domain>', /no entity this parser knows/],
    ['a control character', '<domain><name>\u0001</name><devices/></domain>', /U\+0001 is not allowed/],
    ['an empty document', '', /line 1/],
    ["'--' in a comment", '<domain><!-- a -- b --><devices/></domain>', /'--'/],
    ['two interfaces with our alias', dom('', `<devices>${'<interface type="x"><alias name="ua-net2"/></interface>'.repeat(2)}</devices>`), /two <interface> elements carry alias 'ua-net2'/],
  ])('throws E_DOMAIN_XML for %s', (_label, src, message) => {
    const hinted = expect.objectContaining({ hint: expect.stringMatching(/\w/) });
    expect(() => rewriteDomain(src, [net2])).toThrow(converterError('E_DOMAIN_XML', { message: expect.stringMatching(message), details: hinted }));
  });

  it("refuses a MAC that another of the domain's interfaces has", () => {
    const src = dom('', '<devices><interface type="ethernet"><mac address="52:54:00:EE:96:7D"/><alias name="ua-default"/></interface></devices>');
    const message = expect.stringContaining("MAC 52:54:00:ee:96:7d is already used by the domain's interface 'ua-default'");
    expect(() => rewriteDomain(src, [net2])).toThrow(converterError('E_MAC', { details: forIface('net2'), message }));
  });

  it('names an unaliased interface with the same MAC by its element', () => {
    const src = dom('', '<devices><interface type="bridge"><mac address="52:54:00:ee:96:7d"/></interface></devices>');
    const message = "interface 'net2': MAC 52:54:00:ee:96:7d is already used by the domain's <interface type='bridge'> (hint: give the VMI interface another macAddress)";
    expect(() => rewriteDomain(src, [net2])).toThrow(converterError('E_MAC', { details: forIface('net2'), message }));
  });

  it('lets interfaces without a MAC sit next to others without one', () => {
    const { mac: _mac, ...bare } = net2;
    const src = dom('', '<devices><interface type="ethernet"><alias name="ua-default"/></interface></devices>');
    expect(rewriteDomain(src, [bare])).toContain("<alias name='ua-net2'/>");
  });

  it("refuses a per-device boot order next to the domain's <os><boot dev>", () => {
    const message = expect.stringContaining("interface 'dpdk0': boot order 3 cannot be combined with the domain's <os><boot dev='hd'/>");
    expect(() => rewriteDomain(domain('libvirt-net-vhostuser'), ours)).toThrow(converterError('E_DOMAIN_XML', { details: forIface('dpdk0'), message }));
  });

  it('checks the interfaces before looking at the domain', () => {
    expect(() => rewriteDomain('<not xml', [{ ...net2, rxQueueSize: 100 }])).toThrow(converterError('E_QUEUE_SIZE'));
  });
});
