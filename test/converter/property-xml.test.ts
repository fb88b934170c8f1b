import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConverterError, type ConverterErrorCode } from '../../converter/src/errors.js';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { emitInterfaces, parseXmlTree, planDomainEdits, rewriteDomain } from '../../converter/src/xml/index.js';
import { scanDocument, type XmlElement } from '../../converter/src/xml/scan.js';
import { minimalDomain, validateDomainXml, xpathString } from '../helpers/libvirt.js';

// ---- interfaces -------------------------------------------------------------------------------

const PATH_CHARS = ['a', 'Z', '0', '-', '_', ' ', '.', '"', "'", '<', '>', '&', ';', ']', '#', 'é', '😀', '\u00a0'];
const segment = fc.array(fc.constantFrom(...PATH_CHARS), { minLength: 1, maxLength: 8 }).map((c) => c.join('')).filter((s) => s !== '.' && s !== '..');
const socketPath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`).filter((p) => Buffer.byteLength(p) <= 100);
const mac = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 5, maxLength: 5 }).map((b) => ['02', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':'));
const hex = (max: number) => fc.integer({ min: 0, max }).map((n) => `0x${n.toString(16)}`);

const validIface = (name: string, slot: number): fc.Arbitrary<ResolvedInterface> =>
  fc.record(
    {
      vmiInterface: fc.constant(name),
      network: fc.constant(`net-${name}`),
      podInterface: fc.constant(name),
      socketPath,
      mode: fc.constantFrom('server' as const, 'client' as const),
      model: fc.constantFrom('virtio' as const, 'virtio-transitional' as const, 'virtio-non-transitional' as const),
      rxQueueSize: fc.constantFrom(256, 512, 1024),
      txQueueSize: fc.constantFrom(256, 512, 1024),
      mac,
      mtu: fc.integer({ min: 68, max: 65535 }),
      queues: fc.integer({ min: 1, max: 256 }),
      pciAddress: fc.record({ domain: fc.constant('0x0000'), bus: hex(0xff), slot: fc.constant(`0x${(slot + 1).toString(16)}`), function: hex(7) }),
      acpiIndex: fc.constant(slot + 1),
      bootOrder: fc.constant(slot + 1),
    },
    { requiredKeys: ['vmiInterface', 'network', 'podInterface', 'socketPath', 'mode', 'model', 'rxQueueSize', 'txQueueSize'] },
  );

const ifaceSet: fc.Arbitrary<ResolvedInterface[]> = fc
  .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_-]{0,7}$/), { minLength: 1, maxLength: 3 })
  .chain((names) => fc.tuple(...names.map((n, i) => validIface(n, i))))
  .filter((set) => new Set(set.map((i) => i.socketPath)).size === set.length && new Set(set.map((i) => i.mac)).size === set.length);

// ---- domains ----------------------------------------------------------------------------------

interface Shape {
  readonly q: string;
  readonly indent: string | null;
  readonly memory: string[];
  readonly cpu: string[];
  readonly devices: string[];
  readonly tail: string[];
}

function render(s: Shape): string {
  const { q, indent } = s;
  const lines: [number, string][] = [
    [0, `<domain type=${q}kvm${q} xmlns:qemu=${q}http://libvirt.org/schemas/domain/qemu/1.0${q}>`],
    [1, '<name>gen</name>'],
    [1, `<memory unit=${q}MiB${q}>256</memory>`],
    ...s.memory.map((m): [number, string] => [1, m]),
    [1, `<os><type arch=${q}x86_64${q} machine=${q}q35${q}>hvm</type></os>`],
    ...s.cpu.map((c): [number, string] => [1, c]),
    [1, '<devices>'],
    ...s.devices.map((d): [number, string] => [2, d]),
    [1, '</devices>'],
    ...s.tail.map((t): [number, string] => [1, t]),
    [0, '</domain>'],
  ];
  return indent === null ? lines.map(([, l]) => l).join('') : `${lines.map(([d, l]) => indent.repeat(d) + l).join('\n')}\n`;
}

const domainFor = (names: readonly string[]): fc.Arbitrary<string> =>
  fc
    .record({
      q: fc.constantFrom("'", '"'),
      indent: fc.constantFrom<string | null>('  ', '    ', '\t', null),
      memory: fc.constantFrom('none', 'empty', 'hugepages', 'shared', 'allocation'),
      cells: fc.array(fc.boolean(), { maxLength: 3 }),
      foreign: fc.shuffledSubarray(['ethernet', 'hostdev', 'comment', 'disk', 'vhostuser']),
      stale: fc.subarray([...names]),
      tail: fc.subarray(['commandline', 'description', 'comment']),
    })
    .map(({ q, indent, memory, cells, foreign, stale, tail }) => {
      const a = (k: string, v: string): string => ` ${k}=${q}${v}${q}`;
      const memoryXml: Record<string, string[]> = {
        none: [],
        empty: ['<memoryBacking/>'],
        hugepages: [`<memoryBacking><hugepages><page${a('size', '2048')}${a('unit', 'KiB')}/></hugepages></memoryBacking>`],
        shared: [`<memoryBacking><access${a('mode', 'shared')}/></memoryBacking>`],
        allocation: [`<memoryBacking><hugepages/><allocation${a('mode', 'immediate')}/></memoryBacking>`],
      };
      const cellXml = cells.map((shared, i) => `<cell${a('id', String(i))}${a('cpus', String(i))}${a('memory', '64')}${a('unit', 'MiB')}${shared ? a('memAccess', 'shared') : ''}/>`);
      const deviceXml: Record<string, string> = {
        ethernet: `<interface${a('type', 'ethernet')}><mac${a('address', '06:00:00:00:00:01')}/><model${a('type', 'virtio')}/><alias${a('name', 'ua-default')}/></interface>`,
        hostdev: `<interface${a('type', 'hostdev')}${a('managed', 'yes')}><source><address${a('type', 'pci')}${a('domain', '0x0000')}${a('bus', '0x3b')}${a('slot', '0x02')}${a('function', '0x1')}/></source><alias${a('name', 'ua-sriov0')}/></interface>`,
        comment: '<!-- another hook was here & left <this> -->',
        disk: `<disk${a('type', 'file')}${a('device', 'disk')}><source${a('file', '/var/run/a&amp;b.img')}/><target${a('dev', 'vda')}${a('bus', 'virtio')}/></disk>`,
        vhostuser: `<interface${a('type', 'vhostuser')}><source${a('type', 'unix')}${a('path', '/tmp/other')}${a('mode', 'client')}/><model${a('type', 'virtio')}/><alias${a('name', 'ua-Foreign1')}/></interface>`,
      };
      const tailXml: Record<string, string> = {
        commandline: `<qemu:commandline><qemu:arg${a('value', 'x=&lt;1&gt;&#39;')}/></qemu:commandline>`,
        description: '<description><![CDATA[a <b> & c]]></description>',
        comment: '<!-- tail -->',
      };
      return render({
        q,
        indent,
        memory: memoryXml[memory] ?? [],
        cpu: cellXml.length === 0 ? [] : [`<cpu><numa>${cellXml.join('')}</numa></cpu>`],
        devices: [...foreign.map((f) => deviceXml[f] ?? ''), ...stale.map((n) => `<interface${a('type', 'ethernet')}><alias${a('name', `ua-${n}`)}/></interface>`)],
        tail: tail.map((t) => tailXml[t] ?? ''),
      });
    });

const case_ = ifaceSet.chain((ifaces) => fc.tuple(fc.constant(ifaces), domainFor(ifaces.map((i) => i.vmiInterface))));

// ---- properties -------------------------------------------------------------------------------

describe('rewriteDomain (generated domains and interface sets)', () => {
  it('is idempotent: a second run plans no edit and returns the same bytes', () => {
    fc.assert(
      fc.property(case_, ([ifaces, domain]) => {
        const once = rewriteDomain(domain, ifaces);
        expect(planDomainEdits(once, ifaces)).toEqual([]);
        expect(rewriteDomain(once, ifaces)).toBe(once);
      }),
      { numRuns: 300 },
    );
  });

  it('only inserts our parts or replaces our interfaces, and its output parses', () => {
    fc.assert(
      fc.property(case_, ([ifaces, domain]) => {
        const aliases = ifaces.map((i) => `ua-${i.vmiInterface}`);
        for (const edit of planDomainEdits(domain, ifaces)) {
          const replaced = domain.slice(edit.start, edit.end);
          // Besides our interfaces, only the whitespace of an empty element or a self-closing '/>' is replaced.
          if (replaced.trim() !== '' && replaced !== '/>') expect(aliases.some((al) => replaced.includes(`name="${al}"`) || replaced.includes(`name='${al}'`)), replaced).toBe(true);
          expect(edit.text).not.toMatch(/ua-(default|sriov0|Foreign1)/);
        }
        const out = rewriteDomain(domain, ifaces);
        expect(() => parseXmlTree(out)).not.toThrow();
        for (const al of aliases) expect(out.split(`<alias name='${al}'/>`)).toHaveLength(2);
      }),
      { numRuns: 300 },
    );
  });

  it('converges: rewriting with other values and then with the wanted ones equals rewriting once', () => {
    fc.assert(
      fc.property(case_, ([ifaces, domain]) => {
        const other = ifaces.map((i) => ({ ...i, socketPath: `${i.socketPath}-old`, rxQueueSize: 256 }));
        expect(rewriteDomain(rewriteDomain(domain, other), ifaces)).toBe(rewriteDomain(domain, ifaces));
      }),
      { numRuns: 200 },
    );
  });
});

/** Element names with their attribute names, in document order, as the rewrite's scanner sees them. */
function scannedElements(el: XmlElement): string[] {
  return [`${el.name}(${el.attrs.map((a) => a.name).join(',')})`, ...el.children.flatMap(scannedElements)];
}

/** The same list from fast-xml-parser's order-preserving tree. */
function parsedElements(nodes: Record<string, unknown>[]): string[] {
  return nodes.flatMap((n) => {
    const tag = Object.keys(n).find((k) => k !== ':@') ?? '';
    if (tag.startsWith('#') || tag.startsWith('?')) return [];
    const attrs = Object.keys((n[':@'] ?? {}) as object).map((k) => k.slice(2));
    return [`${tag}(${attrs.join(',')})`, ...parsedElements(n[tag] as Record<string, unknown>[])];
  });
}

describe('the rewrite\'s scanner', () => {
  it('sees the same elements and attributes as fast-xml-parser in every domain fixture', () => {
    const dir = new URL('../../fixtures/domains/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const xml = readFileSync(new URL(file, dir), 'utf8');
      expect(scannedElements(scanDocument(xml).root), file).toEqual(parsedElements(parseXmlTree(xml)));
    }
  });

  it('sees the same elements and attributes as fast-xml-parser, before and after a rewrite', () => {
    fc.assert(
      fc.property(case_, ([ifaces, domain]) => {
        for (const xml of [domain, rewriteDomain(domain, ifaces)]) {
          expect(scannedElements(scanDocument(xml).root)).toEqual(parsedElements(parseXmlTree(xml)));
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---- hostile input against libvirt ------------------------------------------------------------

const EXPECTED_CODES: readonly ConverterErrorCode[] = ['E_SOCKET_PATH', 'E_MAC', 'E_QUEUE_SIZE', 'E_CONFIG', 'E_MODE', 'E_VMI_INVALID', 'E_ANNOTATION_SCHEMA'];
const hostileString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('\ud800', '\u0000', '\n', '\ufffe', '\u0085', '&#1;', ']]>', '..'));

// Wild values in every field: nearly always refused, which exercises the checks.
const wildIface = fc.record({
  vmiInterface: hostileString,
  network: hostileString,
  podInterface: hostileString,
  socketPath: hostileString,
  mode: fc.constantFrom('server', 'client', 'bogus') as fc.Arbitrary<ResolvedInterface['mode']>,
  model: fc.constantFrom('virtio', 'e1000') as fc.Arbitrary<ResolvedInterface['model']>,
  rxQueueSize: fc.constantFrom(256, 100, 4096),
  txQueueSize: fc.constantFrom(512, 0),
  mac: fc.oneof(mac, hostileString, fc.constant('01:00:5e:00:00:01')),
  mtu: fc.integer(),
});
// Valid except for hostile characters in the path and name: mostly written, which exercises escaping.
const pathLikeIface = fc
  .tuple(validIface('dpdk0', 0), fc.oneof(socketPath, socketPath.chain((p) => hostileString.map((h) => p + h))), fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), hostileString))
  .map(([iface, path, name]): ResolvedInterface => ({ ...iface, socketPath: path, vmiInterface: name }));
const hostileIface = fc.oneof({ arbitrary: pathLikeIface, weight: 3 }, { arbitrary: wildIface as fc.Arbitrary<ResolvedInterface>, weight: 1 });

describe('emitInterfaces with hostile strings', () => {
  it('either throws a typed error or writes XML that libvirt validates and reads back', { timeout: 120_000 }, async () => {
    let written = 0;
    await fc.assert(
      fc.asyncProperty(hostileIface, async (iface) => {
        let xml: string;
        try {
          xml = emitInterfaces([iface]);
        } catch (err) {
          expect(err).toBeInstanceOf(ConverterError);
          expect(EXPECTED_CODES).toContain((err as ConverterError).code);
          expect((err as ConverterError).message).not.toMatch(/[\p{Cc}\p{Cs}]/u);
          return;
        }
        written += 1;
        const domain = minimalDomain(xml);
        const result = await validateDomainXml(domain);
        expect(result, result.output).toMatchObject({ rng: true, parser: true });
        expect(await xpathString(domain, '//interface/source/@path')).toBe(iface.socketPath);
      }),
      { numRuns: 60 },
    );
    // The property means little if every sample was refused.
    expect(written).toBeGreaterThan(5);
  });
});
