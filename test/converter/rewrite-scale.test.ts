// The domain rewrite on very large inputs: 10 000 of our interfaces on a one-line domain and
// 20 000 attributes on one element give the right output, and the work grows linearly. Work is
// counted in characters read by string methods, never timed (bench/rewrite-scale.js times it).
import { describe, expect, it } from 'vitest';
import { planDomainEdits, rewriteDomain } from '../../converter/src/xml/index.js';
import { manyAttributesDomain, manyInterfaces, oneLineDomain } from './large-domains.js';

const converterError = (code: string, message: RegExp): unknown => expect.objectContaining({ name: 'ConverterError', code, message: expect.stringMatching(message) });

/**
 * Characters read by the string and array methods the scanner and the edits search with, while
 * `run` runs: charCodeAt counts one, a search counts the stretch it covered, an array scan its
 * length. Regex internals are not counted; the regexes the rewrite uses read a bounded stretch.
 */
function work(run: () => void): number {
  let count = 0;
  const s = String.prototype;
  const a = Array.prototype;
  const saved = { charCodeAt: s.charCodeAt, indexOf: s.indexOf, lastIndexOf: s.lastIndexOf, some: a.some, find: a.find, filter: a.filter };
  s.charCodeAt = function (this: string, i: number) {
    count++;
    return saved.charCodeAt.call(this, i);
  };
  s.indexOf = function (this: string, search: string, from = 0) {
    const at = saved.indexOf.call(this, search, from);
    count += (at < 0 ? this.length : at) - Math.max(0, from) + 1;
    return at;
  };
  s.lastIndexOf = function (this: string, search: string, from = Infinity) {
    const at = saved.lastIndexOf.call(this, search, from);
    count += Math.min(from, this.length) - at;
    return at;
  };
  for (const name of ['some', 'find', 'filter'] as const) {
    const original = saved[name] as (...args: unknown[]) => unknown;
    (a as unknown as Record<string, unknown>)[name] = function (this: unknown[], ...args: unknown[]) {
      count += this.length;
      return original.apply(this, args);
    };
  }
  try {
    run();
  } finally {
    Object.assign(s, { charCodeAt: saved.charCodeAt, indexOf: saved.indexOf, lastIndexOf: saved.lastIndexOf });
    Object.assign(a, { some: saved.some, find: saved.find, filter: saved.filter });
  }
  return count;
}

/** How much more work twice the input takes: 2 when linear, 4 when quadratic. */
function growth(at: (n: number) => () => void, n: number): number {
  return work(at(2 * n)) / work(at(n));
}

describe('rewriteDomain on 10 000 interfaces in a one-line domain', () => {
  const ifaces = manyInterfaces(10_000);

  it('replaces each stale interface in place, on the one line, as it would add them to an empty domain', () => {
    const stale = oneLineDomain(10_000);
    const out = rewriteDomain(stale, ifaces);
    expect(out).not.toContain('\n');
    expect(out.match(/<interface type='vhostuser'>/g)).toHaveLength(10_000);
    expect(out).not.toContain('/var/run/old/');
    // Our interfaces stay in VMI order, each with its own socket.
    expect(out.indexOf("<alias name='ua-dpdk9999'/>")).toBeGreaterThan(out.indexOf("<alias name='ua-dpdk0'/>"));
    expect(out).toContain("<source type='unix' path='/var/lib/cni/usrcni/8f6c1d2e9a7b-net10000' mode='server'/>");
    expect(out).toBe(rewriteDomain(oneLineDomain(0), ifaces));
  });

  it('is idempotent on its own 2.4 MB output', () => {
    const out = rewriteDomain(oneLineDomain(10_000), ifaces);
    expect(out.length).toBeGreaterThan(2_000_000);
    expect(planDomainEdits(out, ifaces)).toEqual([]);
  });

  it('does work linear in the number of interfaces it replaces', () => {
    const replace = (n: number) => {
      const xml = oneLineDomain(n);
      const some = manyInterfaces(n);
      return () => void rewriteDomain(xml, some);
    };
    expect(growth(replace, 1000)).toBeLessThan(2.3);
  });

  it('does work linear in the number of interfaces it adds', () => {
    const add = (n: number) => {
      const xml = oneLineDomain(0);
      const some = manyInterfaces(n);
      return () => void rewriteDomain(xml, some);
    };
    expect(growth(add, 1000)).toBeLessThan(2.3);
  });
});

describe('rewriteDomain on 20 000 attributes on one element', () => {
  const [iface] = manyInterfaces(1);
  const ifaces = iface === undefined ? [] : [iface];

  it('keeps every attribute and adds the interface and shared memory', () => {
    const xml = manyAttributesDomain(20_000);
    const out = rewriteDomain(xml, ifaces);
    expect(out.slice(0, out.indexOf('>') + 1)).toBe(xml.slice(0, xml.indexOf('>') + 1));
    expect(out).toContain("<alias name='ua-dpdk0'/>");
    expect(out).toContain("<access mode='shared'/>");
  });

  it('still refuses the 20 001st attribute when it repeats the first, and names it', () => {
    const xml = manyAttributesDomain(20_000).replace(" type='kvm'>", " data-a0='again'>");
    expect(() => rewriteDomain(xml, ifaces)).toThrow(converterError('E_DOMAIN_XML', /data-a0/));
  });

  it("still refuses a '<' in the last attribute's value", () => {
    const xml = manyAttributesDomain(20_000).replace(" type='kvm'>", " type='k<vm'>");
    expect(() => rewriteDomain(xml, ifaces)).toThrow(converterError('E_DOMAIN_XML', /line 1, column \d+/));
  });

  it('does work linear in the number of attributes', () => {
    const attrs = (n: number) => {
      const xml = manyAttributesDomain(n);
      return () => void rewriteDomain(xml, ifaces);
    };
    expect(growth(attrs, 5000)).toBeLessThan(2.3);
  });
});

describe('rewriteDomain refuses a domain saxes refuses, with line, column and what is wrong', () => {
  const [iface] = manyInterfaces(1);
  const ifaces = iface === undefined ? [] : [iface];

  it.each([
    ['a name character XML forbids', "<domain type='kvm'><na\u00d7me/><devices/></domain>", /line 1, column 23: unexpected character '\u00d7' after the name in <na>/],
    ['a name outside the BMP', "<domain type='kvm'><devices \u{1F600}='1'/></domain>", /line 1, column \d+: attribute '\u{1F600}' of <devices> has a name character outside the Basic Multilingual Plane/u],
    ['an unclosed element', "<domain type='kvm'>\n<devices>\n</domain>", /line 3, column 1: <\/domain> does not close <devices>/],
    ['an entity it does not know', "<domain type='kvm'><devices/><x a='&nbsp;'/></domain>", /line 1, column 36: '&' starts no entity this parser knows/],
    ['a second root', "<domain type='kvm'><devices/></domain>\n<domain/>", /line 2, column 1: there is content after the root element/],
  ])('%s', (_what, xml, message) => {
    expect(() => rewriteDomain(xml, ifaces)).toThrow(converterError('E_DOMAIN_XML', message));
  });
});
