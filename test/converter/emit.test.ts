import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { emitInterfaces, parseXmlTree, RECONNECT_TIMEOUT_S } from '../../converter/src/xml/index.js';
import { dumpDomainXml, minimalDomain, validateDomainXml, xpathString } from '../helpers/libvirt.js';

const samples = JSON.parse(readFileSync(new URL('../../fixtures/domains/interfaces.json', import.meta.url), 'utf8')) as Record<string, ResolvedInterface>;
const sample = (name: string): ResolvedInterface => samples[name] as ResolvedInterface;
const indent = (xml: string, by: string): string => xml.replace(/^(?=.)/gm, by);

describe('emitInterfaces', () => {
  it.each(Object.keys(samples))('writes the %s interface as in its golden file', async (name) => {
    await expect(emitInterfaces([sample(name)])).toMatchFileSnapshot(`../../fixtures/domains/expected/emit-${name}.xml`);
  });

  it('writes several interfaces in the given order, byte for byte the same each time', () => {
    const ifaces = [sample('client-reconnect'), sample('server-full'), sample('server-minimal')];
    const xml = emitInterfaces(ifaces);
    expect(emitInterfaces(ifaces)).toBe(xml);
    expect([...xml.matchAll(/alias name='([^']+)'/g)].map((m) => m[1])).toEqual(['ua-net2', 'ua-dpdk0', 'ua-net1']);
  });

  it('writes nothing for no interfaces', () => {
    expect(emitInterfaces([])).toBe('');
  });

  it('writes exactly what libvirt writes back for it, apart from the target device libvirt names', async () => {
    // libvirt invents a MAC when there is none, and leaves out queues='1', its default.
    const ifaces = Object.values(samples).map((s, i): ResolvedInterface => ({ ...s, mac: s.mac ?? `02:00:00:00:00:0${i}`, ...(s.queues === 1 ? { queues: 2 } : {}) }));
    const ours = emitInterfaces(ifaces);
    const dumped = await dumpDomainXml(minimalDomain(indent(ours, '    ')), 'kvvu-test');
    const theirs = dumped.split('\n').filter((l) => !l.includes('<target dev='));
    const start = theirs.findIndex((l) => l.includes('<interface'));
    const end = theirs.findLastIndex((l) => l.includes('</interface>'));
    expect(theirs.slice(start, end + 1).join('\n')).toBe(indent(ours, '    ').trimEnd());
  });

  it('passes libvirt schema and parser checks', async () => {
    const result = await validateDomainXml(minimalDomain(indent(emitInterfaces(Object.values(samples)), '    ')));
    expect(result, result.output).toMatchObject({ rng: true, parser: true });
  });

  it('escapes a path with quotes, <, > and & so that libxml2 reads back the same value', async () => {
    const iface = sample('hostile-path');
    const domain = minimalDomain(emitInterfaces([iface]));
    expect(await xpathString(domain, '//interface/source/@path')).toBe(iface.socketPath);
    const source = JSON.stringify(parseXmlTree(domain)).match(/"@_path":"([^"\\]|\\.)*"/)?.[0];
    expect(source).toContain('&quot;&lt;&amp;&apos;b&gt;]]&gt;&amp;amp;');
  });

  it('adds <reconnect> for client mode only', () => {
    const client = emitInterfaces([sample('client-reconnect')]);
    const server = emitInterfaces([sample('server-full'), sample('server-minimal')]);
    expect(client).toContain(`<reconnect enabled='yes' timeout='${RECONNECT_TIMEOUT_S}'/>`);
    expect(server).not.toContain('reconnect');
  });

  it('is right to leave <reconnect> out in server mode: libvirt rejects it there', async () => {
    const server = emitInterfaces([sample('server-minimal')]).replace("mode='server'/>", "mode='server'><reconnect enabled='yes' timeout='10'/></source>");
    const result = await validateDomainXml(minimalDomain(server));
    expect(result.parser).toBe(false);
    expect(result.output).toContain("'reconnect' attribute unsupported 'server' mode");
  });

  it('leaves out queues when unset and writes MAC addresses in lower case, as libvirt does', () => {
    const xml = emitInterfaces([sample('server-minimal'), sample('server-full')]);
    expect(xml).toContain("<driver rx_queue_size='1024' tx_queue_size='1024'/>");
    expect(xml).toContain("<driver queues='4' rx_queue_size='1024' tx_queue_size='1024'/>");
    expect(xml).toContain("<mac address='02:00:00:0a:30:89'/>");
  });

  it('checks before writing', () => {
    expect(() => emitInterfaces([{ ...sample('server-minimal'), mac: '01:00:00:00:00:01' }])).toThrow(/multicast/);
  });
});
