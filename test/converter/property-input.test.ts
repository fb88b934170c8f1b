import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConverterError } from '../../converter/src/errors.js';
import { convert } from '../../converter/src/index.js';
import { quoteGoString, unquoteGoString } from '../../converter/src/podnetinfo/go-quote.js';
import { formatDownwardApiFile, parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';

// Annotation keys as Kubernetes allows them: optional DNS prefix, then a qualified name.
const segment = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const name = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?$/);
const key = fc.tuple(fc.option(fc.array(segment, { minLength: 1, maxLength: 3 })), name).map(([prefix, n]) => (prefix === null ? n : `${prefix.join('.')}/${n}`));
const anyText = fc.string({ unit: 'binary', maxLength: 200 });

/** Runs `fn`; anything thrown must be a ConverterError. */
function onlyConverterErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ConverterError)) throw err;
  }
}

const vmi = {
  metadata: { name: 'vm', namespace: 'vms' },
  spec: {
    domain: { devices: { interfaces: [{ name: 'blue', vhostuser: {} }, { name: 'red', binding: { name: 'vhostuser' } }] } },
    networks: [
      { name: 'blue', multus: { networkName: 'nad-blue' } },
      { name: 'red', multus: { networkName: 'vms/nad-red' } },
    ],
  },
};

const ANNOTATION_KEYS = [
  'k8s.v1.cni.cncf.io/network-status',
  'k8s.v1.cni.cncf.io/networks-status',
  'k8s.v1.cni.cncf.io/networks',
  'userspace/configuration-data',
  'userspace/mapped-dir',
  'kubevirt.io/network-info',
];

// Shapes close to the real ones, with every field free to be the wrong type or absent.
const deviceInfo = fc.record(
  { type: fc.oneof(fc.constant('vhost-user'), fc.jsonValue()), version: fc.oneof(fc.constantFrom('1.1.0', 'v1.0.0', '9'), fc.jsonValue()), 'vhost-user': fc.oneof(fc.record({ mode: fc.oneof(fc.constantFrom('server', 'client'), fc.jsonValue()), path: fc.oneof(anyText, fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue()) },
  { requiredKeys: [] },
);
const statusEntry = fc.record(
  {
    name: fc.oneof(fc.constantFrom('nad-blue', 'vms/nad-blue', 'vms/nad-red'), fc.jsonValue()),
    interface: fc.oneof(fc.constantFrom('net1', 'net2', 'pod16477688c0e', 'podb1f51a511f1'), fc.jsonValue()),
    mac: fc.oneof(fc.constant('02:00:00:00:00:01'), fc.jsonValue()),
    mtu: fc.jsonValue(),
    'device-info': deviceInfo,
  },
  { requiredKeys: [] },
);
const configEntry = fc.record(
  { ifName: fc.oneof(fc.constantFrom('net1', 'net2', 'pod16477688c0e'), fc.jsonValue()), config: fc.oneof(fc.record({ iftype: fc.jsonValue(), vhost: fc.record({ mode: fc.jsonValue(), socketfile: fc.oneof(anyText, fc.jsonValue()) }, { requiredKeys: [] }) }, { requiredKeys: [] }), fc.jsonValue()) },
  { requiredKeys: [] },
);
const annotationValue = fc.oneof(
  anyText,
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.array(statusEntry, { maxLength: 3 }).map((v) => JSON.stringify(v)),
  fc.array(configEntry, { maxLength: 3 }).map((v) => JSON.stringify(v)),
  fc.record({ interfaces: fc.array(fc.record({ network: fc.oneof(fc.constantFrom('blue', 'red'), fc.jsonValue()), deviceInfo }, { requiredKeys: [] })) }).map((v) => JSON.stringify(v)),
  fc.array(statusEntry, { maxLength: 3 }).map((v) => JSON.stringify(v).slice(0, -3)),
);

describe('downward-API file properties', () => {
  it('parses back, unchanged, any map written the way kubelet writes it', () => {
    fc.assert(
      fc.property(fc.dictionary(key, anyText, { maxKeys: 8 }), fc.boolean(), (record, trailingNewline) => {
        const text = formatDownwardApiFile(record) + (trailingNewline ? '\n' : '');
        const parsed = parseDownwardApiFile(text);
        expect(Object.fromEntries(parsed)).toEqual(record);
        expect(formatDownwardApiFile(parsed)).toBe(formatDownwardApiFile(record));
      }),
    );
  });

  it('unquotes whatever it quotes', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        expect(unquoteGoString(quoteGoString(s)).value).toBe(s);
      }),
    );
  });

  it('answers any text with a map or E_PODINFO_SYNTAX', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.array(fc.oneof(anyText, key.map((k) => `${k}="`)), { maxLength: 5 }).map((l) => l.join('\n'))), (text) => {
        try {
          parseDownwardApiFile(text);
        } catch (err) {
          expect(err).toBeInstanceOf(ConverterError);
          expect((err as ConverterError).code).toBe('E_PODINFO_SYNTAX');
        }
      }),
    );
  });
});

describe('garbage in any annotation', () => {
  it('gives a result or a ConverterError, never another exception', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...ANNOTATION_KEYS), annotationValue, { maxKeys: 6 }), (annotations) => {
        onlyConverterErrors(() => convert({ annotations, vmi }));
        onlyConverterErrors(() => convert({ annotations, vmi, domainXml: "<domain type='kvm'><name>x</name><devices/></domain>" }));
      }),
      { numRuns: 300 },
    );
  });

  it('gives a ConverterError for garbage in place of the VMI or the settings', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (badVmi, badConfig) => {
        onlyConverterErrors(() => convert({ annotations: {}, vmi: badVmi }));
        onlyConverterErrors(() => convert({ annotations: {}, vmi, config: badConfig as object }));
      }),
    );
  });
});
