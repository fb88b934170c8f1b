// Fuzzing of the converter, shared by test/reliability/fuzz.test.ts and bench/fuzz.js (on dist/):
// VMIs, kubelet-style annotation files and domains that are near the real ones but free to be
// hostile (quotes and markup in socket paths, '..', bad MACs, damaged files and XML). Each case
// must give well-formed XML that carries exactly the resolved socket paths, rewrite idempotently,
// or fail with a ConverterError. The VMI owner also copies some of the socket annotations into the
// VMI (as KubeVirt copies VMI annotations onto the pod): no socket may come from those, and no
// socket may lie outside the shared dir or name an OVS control file. Package imports only (Node's type stripping loads it from bench/).
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

type Json = Record<string, unknown>;

/** The converter entry points a run needs, from src/ (tests) or dist/ (bench). */
export interface ConverterApi {
  convert(input: { annotations: ReadonlyMap<string, string>; vmi: unknown; domainXml?: string }): { xml: string; interfaces: readonly { vmiInterface: string; socketPath: string }[] };
  parseDownwardApiFile(text: string): Map<string, string>;
  formatDownwardApiFile(entries: Readonly<Record<string, string>>): string;
  isConverterError(err: unknown): boolean;
}

export interface ConverterCase {
  readonly vmi: Json;
  /** The downward-API `annotations` file, as kubelet writes it (perhaps damaged). */
  readonly file: string;
  readonly domainXml?: string;
}

export type ConverterResult =
  | { readonly kind: 'error'; readonly code: string }
  | { readonly kind: 'xml'; readonly xml: string; readonly fragment: boolean; readonly sockets: readonly (readonly [string, string])[] };

const NAMES = ['net1', 'blue', 'dpdk-0', 'a_b', 'n2'];
const HOSTILE_NAMES = ["a'b", 'x<y', '\u00e9', '', 'n'.repeat(70), 'a b', 'a&b'];
// Characters a file name may hold that mean something to XML, plus a few that libvirt must refuse.
const LEGAL_UNITS = [...'abc-_.09', "'", '"', '<', '>', '&', ';', ' ', '\u00e9', '\u{1f600}'];
const legalName = fc.string({ unit: fc.constantFrom(...LEGAL_UNITS), minLength: 1, maxLength: 10 }).filter((n) => n !== '.' && n !== '..');
const segment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('var', 'lib', 'cni', 'usrcni', 'run', 'openvswitch', '037ecb6703b0-net1') },
  { weight: 3, arbitrary: legalName },
  { weight: 1, arbitrary: fc.constantFrom('..', '.', '', 'a\tb', 'a\u0085b', 'a\nb') },
);
const socketPath = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '/var/lib/cni/usrcni/037ecb6703b0-net1',
      '037ecb6703b0-net1',
      '/var/run/openvswitch/vhost_sockets/x/vhostuser.sock',
      '/var/run/openvswitch/db.sock',
      'db.sock',
      '/var/lib/cni/usrcni/ovs-vswitchd.1.ctl',
      'ovsdb-server.pid',
      '/var/lib/cni/usrcni',
      '/var/lib/cni/usrcnix/y',
    ),
  },
  { weight: 4, arbitrary: fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`) },
  // Inside the shared dir with legal names (quotes and markup included): the paths that resolve.
  { weight: 14, arbitrary: fc.array(legalName, { minLength: 1, maxLength: 2 }).map((s) => `/var/lib/cni/usrcni/${s.join('/')}`) },
  { weight: 3, arbitrary: fc.array(segment, { minLength: 1, maxLength: 2 }).map((s) => s.join('/')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constant(`/var/lib/cni/usrcni/${'x'.repeat(100)}`) },
);
const octet = fc.integer({ min: 0, max: 255 }).map((n) => n.toString(16).padStart(2, '0'));
const mac = fc.oneof(
  { weight: 8, arbitrary: fc.array(octet, { minLength: 5, maxLength: 5 }).map((o) => `02:${o.join(':')}`) },
  { weight: 1, arbitrary: fc.constantFrom("02:00:00:00:00:01'/><x a='", '01:00:5e:00:00:01', 'zz', '', '02-00-00-00-00-01') },
);
const pci = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 2, max: 9 }).map((bus) => `0000:0${bus}:01.0`) },
  { weight: 1, arbitrary: fc.constantFrom("0000:02:01.0'/>", '0000:02:40.0', 'x') },
);
// Mostly absent or fine, sometimes out of range.
const rare = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad });
/** One of the keys, each as often as its weight. */
function weighted<K extends string>(weights: Record<K, number>): fc.Arbitrary<K> {
  return fc.oneof(...Object.entries<number>(weights).map(([k, weight]) => ({ weight, arbitrary: fc.constant(k as K) })));
}
/** `arb` one time in `n`, else undefined. */
const oneIn = <T>(n: number, arb: fc.Arbitrary<T>) => fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const ifaceSpec = fc.record({
  name: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_NAMES) }),
  dialect: weighted({ vhostuser: 3, binding: 3, masquerade: 1 }),
  network: weighted({ multus: 12, pod: 1, missing: 1 }),
  source: weighted({ 'device-info': 4, 'network-info': 2, 'configuration-data': 3, none: 1 }),
  scheme: weighted({ ordinal: 1, hashed: 1, status: 1 }),
  socket: socketPath,
  mode: weighted({ server: 6, client: 3, weird: 1 }),
  version: weighted({ '1.1.0': 4, 'v1.0.0': 2, none: 2, '2.0.0': 1 }).map((v) => (v === 'none' ? undefined : v)),
  mac: fc.option(mac, { nil: undefined }),
  pci: oneIn(3, pci),
  bootOrder: rare(fc.integer({ min: 1, max: 4 }), fc.integer({ min: -1, max: 0 })),
  acpiIndex: rare(fc.integer({ min: 1, max: 16_383 }), fc.constantFrom(0, 16_384, 20_000)),
  mtu: rare(fc.integer({ min: 68, max: 65_535 }), fc.constantFrom(0, 67, 70_000)),
  model: rare(fc.constantFrom('virtio', 'virtio-transitional'), fc.constant('e1000')),
});
type IfaceSpec = typeof ifaceSpec extends fc.Arbitrary<infer T> ? T : never;

/** Annotations a socket path, mode or directory is read from: the ones a VMI owner would forge. */
export const SOCKET_ANNOTATIONS = [
  'k8s.v1.cni.cncf.io/network-status',
  'userspace/configuration-data',
  'userspace/mapped-dir',
  'kubevirt.io/network-info',
] as const;
/** The only directory a socket may lie in under the default settings. */
const SHARED_DIR = '/var/lib/cni/usrcni/';

const world = fc.record({
  ownerCopies: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.subarray([...SOCKET_ANNOTATIONS]) }),
  ifaces: fc.uniqueArray(ifaceSpec, { minLength: 1, maxLength: 3, selector: (i) => i.name }),
  mappedDir: fc.option(fc.oneof(fc.constantFrom('/var/lib/cni/usrcni/', '/var/lib/cni/usrcni/../../run', "/var/lib/cni/<us>&'"), socketPath), { nil: undefined }),
  multiqueue: fc.boolean(),
  cores: fc.integer({ min: 1, max: 8 }),
  damage: oneIn(8, fc.record({ at: fc.nat(), insert: fc.constantFrom('"', '\n', '\\', '=', '\u0000', '\\x') })),
});

function podInterfaceName(spec: IfaceSpec, ordinal: number): string {
  if (spec.scheme === 'ordinal') return `net${ordinal}`;
  if (spec.scheme === 'hashed') return `pod${createHash('sha256').update(spec.name).digest('hex').slice(0, 11)}`;
  return `podst${ordinal}`;
}

/** The VMI and the annotations Multus, the userspace CNI and KubeVirt would have written for it. */
function build(w: typeof world extends fc.Arbitrary<infer T> ? T : never): { vmi: Json; annotations: Record<string, string> } {
  const interfaces: Json[] = [];
  const networks: Json[] = [{ name: 'default', pod: {} }];
  const status: Json[] = [{ name: 'kindnet', interface: 'eth0', default: true }];
  const selections: Json[] = [];
  const configData: Json[] = [];
  const networkInfo: Json[] = [];
  const statusIfaces: Json[] = [];
  let ordinal = 0;
  w.ifaces.forEach((s, i) => {
    const binding = s.dialect === 'vhostuser' ? { vhostuser: {} } : s.dialect === 'binding' ? { binding: { name: 'vhostuser' } } : { masquerade: {} };
    interfaces.push({
      name: s.name,
      ...binding,
      ...(s.mac === undefined ? {} : { macAddress: s.mac }),
      ...(s.pci === undefined ? {} : { pciAddress: s.pci }),
      ...(s.bootOrder === undefined ? {} : { bootOrder: s.bootOrder }),
      ...(s.acpiIndex === undefined ? {} : { acpiIndex: s.acpiIndex }),
      ...(s.model === undefined ? {} : { model: s.model }),
    });
    if (s.network === 'missing') return;
    if (s.network === 'pod') return void networks.push({ name: s.name, pod: {} });
    const nad = `nad-${i}`;
    networks.push({ name: s.name, multus: { networkName: i % 2 === 0 ? nad : `vms/${nad}` } });
    const podIface = podInterfaceName(s, ++ordinal);
    if (s.scheme === 'status') statusIfaces.push({ name: s.name, podInterfaceName: podIface });
    selections.push({ name: nad, namespace: 'vms', interface: podIface });
    const deviceInfo = { type: 'vhost-user', ...(s.version === undefined ? {} : { version: s.version }), 'vhost-user': { mode: s.mode, path: s.socket } };
    const entry: Json = { name: `vms/${nad}`, interface: podIface, ...(s.mtu === undefined ? {} : { mtu: s.mtu }) };
    if (s.source === 'device-info') entry['device-info'] = deviceInfo;
    if (s.source === 'network-info') networkInfo.push({ network: s.name, deviceInfo });
    if (s.source === 'configuration-data') {
      configData.push({ containerId: '037ecb6703b0', ifName: podIface, name: nad, config: { engine: 'ovs-dpdk', iftype: 'vhostuser', netType: 'interface', vhost: { mode: s.mode, socketfile: s.socket } } });
    }
    status.push(entry);
  });
  const vmi = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'vm', namespace: 'vms', annotations: {} as Record<string, string> },
    spec: { domain: { cpu: { cores: w.cores }, devices: { networkInterfaceMultiqueue: w.multiqueue, interfaces } }, networks },
    ...(statusIfaces.length === 0 ? {} : { status: { interfaces: statusIfaces } }),
  };
  const annotations: Record<string, string> = {
    'k8s.v1.cni.cncf.io/network-status': JSON.stringify(status),
    'k8s.v1.cni.cncf.io/networks': JSON.stringify(selections),
  };
  if (configData.length > 0) annotations['userspace/configuration-data'] = JSON.stringify(configData);
  if (w.mappedDir !== undefined) annotations['userspace/mapped-dir'] = w.mappedDir;
  if (networkInfo.length > 0) annotations['kubevirt.io/network-info'] = JSON.stringify({ interfaces: networkInfo });
  for (const key of w.ownerCopies) {
    const value = annotations[key];
    if (value !== undefined) vmi.metadata.annotations[key] = value;
  }
  return { vmi, annotations };
}

/** Cases over `domains` (schema-valid libvirt domains): as they are, lightly edited, or broken. */
export function caseArbitrary(api: ConverterApi, domains: readonly string[]): fc.Arbitrary<ConverterCase> {
  const domain = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(...domains),
    fc.constantFrom(...domains).map((d) => d.replace('<devices>', '<devices>\n    <!-- other hook\'s comment & <stuff> -->')),
    fc.tuple(fc.constantFrom(...domains), fc.nat()).map(([d, n]) => d.slice(0, n % d.length)),
    fc.string({ maxLength: 40 }),
  );
  return fc.tuple(world, domain).map(([w, domainXml]) => {
    const { vmi, annotations } = build(w);
    let file = api.formatDownwardApiFile(annotations);
    if (w.damage !== undefined) {
      const at = w.damage.at % (file.length + 1);
      file = file.slice(0, at) + w.damage.insert + file.slice(at);
    }
    return { vmi, file, ...(domainXml === undefined ? {} : { domainXml }) };
  });
}

const READER = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', trimValues: false, isArray: (name) => name === 'interface' });

/** The `(alias, source path)` of every vhost-user interface, read back by an XML parser. */
function readSockets(xml: string, fragment: boolean): [string, string][] {
  const doc = READER.parse(fragment ? `<devices>${xml}</devices>` : xml) as Json;
  const devices = (fragment ? doc['devices'] : (doc['domain'] as Json | undefined)?.['devices']) as Json | undefined;
  const ifaces = (devices?.['interface'] ?? []) as Json[];
  return ifaces
    .filter((i) => i['type'] === 'vhostuser')
    .map((i) => [String((i['alias'] as Json | undefined)?.['name']), String((i['source'] as Json | undefined)?.['path'])] as [string, string]);
}

function sameSockets(a: readonly (readonly [string, string])[], b: readonly (readonly [string, string])[]): boolean {
  const key = (l: readonly (readonly [string, string])[]) => JSON.stringify([...l].map((p) => p.join('\u0000')).sort());
  return key(a) === key(b);
}

/** Runs one case; throws (fails the property) on anything but a checked result or a ConverterError. */
export function checkConvert(api: ConverterApi, c: ConverterCase): ConverterResult {
  const typed = (err: unknown): ConverterResult => {
    if (!api.isConverterError(err)) throw err;
    return { kind: 'error', code: String((err as { code: unknown }).code) };
  };
  let result: ReturnType<ConverterApi['convert']>;
  try {
    const annotations = api.parseDownwardApiFile(c.file);
    result = api.convert({ annotations, vmi: c.vmi, ...(c.domainXml === undefined ? {} : { domainXml: c.domainXml }) });
    const fragment = c.domainXml === undefined;
    const wellFormed = XMLValidator.validate(fragment ? `<devices>${result.xml}</devices>` : result.xml);
    if (wellFormed !== true) throw new Error(`output is not well-formed XML: ${JSON.stringify(wellFormed)}\n${result.xml}`);
    const expected = result.interfaces.map((i) => [`ua-${i.vmiInterface}`, i.socketPath] as const);
    for (const [, path] of expected) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      if (!path.startsWith(SHARED_DIR) || name === 'db.sock' || name.endsWith('.ctl') || name.endsWith('.pid')) {
        throw new Error(`socket path ${JSON.stringify(path)} escapes ${SHARED_DIR} or names an OVS control file`);
      }
    }
    const own = ((c.vmi['metadata'] as Json | undefined)?.['annotations'] ?? {}) as Record<string, unknown>;
    const trusted = SOCKET_ANNOTATIONS.filter((k) => annotations.has(k) && own[k] !== annotations.get(k));
    if (expected.length > 0 && !trusted.some((k) => k !== 'userspace/mapped-dir')) {
      throw new Error(`sockets ${JSON.stringify(expected)} resolved although every socket annotation is the VMI owner's copy`);
    }
    const sockets = readSockets(result.xml, fragment);
    // Vhost-user interfaces already in the domain under other aliases stay; ours must all be there.
    const ours = sockets.filter(([alias]) => expected.some(([a]) => a === alias));
    if (!sameSockets(ours, expected)) throw new Error(`socket paths read back ${JSON.stringify(ours)}, resolved ${JSON.stringify(expected)}`);
    if (!fragment) {
      const again = api.convert({ annotations, vmi: c.vmi, domainXml: result.xml }).xml;
      if (again !== result.xml) throw new Error('rewriting the output again changed it');
    }
    return { kind: 'xml', xml: result.xml, fragment, sockets: expected };
  } catch (err) {
    return typed(err);
  }
}

/** How much a result says about escaping: socket paths with quotes or markup count most. */
export function hostility(r: ConverterResult): number {
  if (r.kind !== 'xml') return 0;
  return r.sockets.reduce((n, [, path]) => n + (path.match(/['"<>&]/g)?.length ?? 0), 0);
}
