// listPodInterfaces: a pod's vhost-user interfaces without a VMI, on the real samples of
// openshift/app-netutil and kubevirt/community PR 218 (fixtures/podnetinfo, see fixtures/SOURCES.md),
// and every check convert makes, attacked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConverterError } from '../../converter/src/errors.js';
import { listPodInterfaces, unreportedAttachments, virtioUserVdev, type ListPodInterfacesInput } from '../../converter/src/index.js';
import { parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { errorOf } from './expect-error.js';

const samples = join(import.meta.dirname, '../../fixtures/podnetinfo');
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const CONFIG_DATA = 'userspace/configuration-data';
const MAPPED_DIR = 'userspace/mapped-dir';

function sample(file: string): Map<string, string> {
  return parseDownwardApiFile(readFileSync(join(samples, file), 'utf8'), file);
}

function annotations(entries: Record<string, unknown>): Map<string, string> {
  return new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

const list = (annotations: Map<string, string>, rest: Omit<ListPodInterfacesInput, 'annotations'> = {}) => listPodInterfaces({ annotations, ...rest });

const vhostStatus = (iface: string, path: string, extra: Record<string, unknown> = {}, mode = 'server') => ({
  name: `vms/nad-${iface}`,
  interface: iface,
  'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode, path } },
  ...extra,
});

describe('listPodInterfaces on real samples', () => {
  it('app-netutil, userspace CNI OVS-DPDK: both sockets from configuration-data joined to mapped-dir, eth0 passed over', () => {
    const listing = list(sample('app-netutil/annotations_userspace_no_deviceinfo'), { config: { allowedSocketDirs: ['/var/lib/cni/usrspcni'] } });
    expect(listing.interfaces.map((i) => [i.podInterface, i.network, i.socketPath, i.mode, i.source, i.vdev])).toEqual([
      ['net1', 'userspace-ovs-net-1', '/var/lib/cni/usrspcni/037ecb6703b0-net1', 'server', CONFIG_DATA, 'net_virtio_user0,path=/var/lib/cni/usrspcni/037ecb6703b0-net1,server=1'],
      ['net2', 'userspace-ovs-net-2', '/var/lib/cni/usrspcni/037ecb6703b0-net2', 'server', CONFIG_DATA, 'net_virtio_user1,path=/var/lib/cni/usrspcni/037ecb6703b0-net2,server=1'],
    ]);
    // Kuryr's per-port file: exactly its three keys (no MAC in this sample, so no vhostmac).
    expect(listing.interfaces[0]?.kuryr).toStrictEqual({ vhostname: '037ecb6703b0-net1', mode: 'server' });
    // app-netutil's InterfaceData, as its userspace module fills it from configuration-data.
    expect(listing.interfaces[1]?.appNetutil).toStrictEqual({
      'device-type': 'vhost-user',
      'network-status': {
        name: 'userspace-ovs-net-2',
        interface: 'net2',
        'device-info': { type: 'vhost-user', version: '1.0.0', 'vhost-user': { mode: 'server', path: '/var/lib/cni/usrspcni/037ecb6703b0-net2' } },
      },
    });
    expect(listing.passedOver).toEqual([expect.objectContaining({ podInterface: 'eth0', network: 'cbr0', kind: 'not-vhost-user' })]);
  });

  it('app-netutil, nimbess: an absolute client-mode socket and no network-status: server=0, no network', () => {
    const listing = list(sample('app-netutil/annotations_no_networkstatus'), { config: { allowedSocketDirs: ['/var/lib/nimbess/cni'] } });
    const path = '/var/lib/nimbess/cni/8ca6413b0ba66d184a9d7eb8ea15333d1438c4f0a1a86ed7142a56572f0e59fe_vhost.sock';
    expect(listing.interfaces).toHaveLength(1);
    expect(listing.interfaces[0]).toMatchObject({ podInterface: 'eth_vhost0', socketPath: path, mode: 'client', vdev: `net_virtio_user0,path=${path},server=0` });
    expect(listing.interfaces[0]).not.toHaveProperty('network');
    expect(listing.interfaces[0]?.appNetutil['network-status'].name).toBe('');
    expect(listing.passedOver).toEqual([]);
  });

  it('app-netutil, SR-IOV: pci device-info entries are listed as SR-IOV VFs with their address and passed over with the reason', () => {
    const listing = list(sample('app-netutil/annotations_deviceinfo_pci'));
    expect(listing.interfaces).toEqual([]);
    const sriov = listing.passedOver.filter((p) => p.kind === 'sr-iov');
    expect(sriov.map((p) => [p.podInterface, p.network, p.pciAddress])).toEqual([
      ['net1', 'default/sriov-net-a', '0000:01:02.5'],
      ['net2', 'default/sriov-net-b', '0000:01:0a.4'],
    ]);
    expect(sriov[0]?.reason).toBe(
      'pod interface net1: a PCI device (SR-IOV VF 0000:01:02.5, device-info type pci), not a vhost-user socket; a DPDK application binds it with its PCI driver (-a 0000:01:02.5), not with --vdev',
    );
    expect(sriov[1]?.appNetutil).toStrictEqual({
      'device-type': 'sr-iov',
      'network-status': { name: 'default/sriov-net-b', interface: 'net2', 'device-info': { type: 'pci', version: '1.0.0', pci: { 'pci-address': '0000:01:0a.4' } } },
    });
    // The default network (name "") is no vhost-user interface, and its reason names no made-up NAD.
    const eth0 = listing.passedOver.find((p) => p.podInterface === 'eth0');
    expect(eth0).toMatchObject({ kind: 'not-vhost-user' });
    expect(eth0?.reason).not.toContain('#');
  });

  it('app-netutil, attachments without device-info or configuration-data: nothing to list', () => {
    for (const file of ['annotations_no_deviceinfo', 'annotations_deviceinfo_vhost']) {
      const listing = list(sample(`app-netutil/${file}`));
      expect(listing.interfaces, file).toEqual([]);
      expect(listing.passedOver.every((p) => p.kind === 'not-vhost-user'), file).toBe(true);
    }
  });

  it('a real virt-launcher pod (PR 218): bare device-info path joined to the socket dir, the MAC in --vdev and vhostmac', () => {
    const listing = list(sample('juniper-pr218/annotations'));
    expect(listing.interfaces).toEqual([
      expect.objectContaining({
        network: 'kubevirttest/vn-blue',
        podInterface: 'net1',
        socketPath: '/var/lib/cni/usrcni/2ea1931c-2935-net1',
        mode: 'server',
        mac: '02:c6:da:d3:ab:07',
        source: STATUS,
        vdev: 'net_virtio_user0,path=/var/lib/cni/usrcni/2ea1931c-2935-net1,server=1,mac=02:c6:da:d3:ab:07',
        kuryr: { vhostname: '2ea1931c-2935-net1', vhostmac: '02:c6:da:d3:ab:07', mode: 'server' },
      }),
    ]);
  });
});

describe('listPodInterfaces: resolution shared with convert', () => {
  it('two attachments of one NAD each get their own socket, numbered in pod order', () => {
    const ann = annotations({
      [STATUS]: [
        { name: 'vms/blue', interface: 'net1', 'device-info': { type: 'vhost-user', 'vhost-user': { mode: 'server', path: '/s/a' } } },
        { name: 'vms/blue', interface: 'net2', 'device-info': { type: 'vhost-user', 'vhost-user': { mode: 'client', path: '/s/b' } } },
      ],
    });
    const listing = list(ann, { config: { allowedSocketDirs: ['/s'] } });
    expect(listing.interfaces.map((i) => [i.podInterface, i.vdev])).toEqual([
      ['net1', 'net_virtio_user0,path=/s/a,server=1'],
      ['net2', 'net_virtio_user1,path=/s/b,server=0'],
    ]);
  });

  it('device-info outranks configuration-data for the same pod interface, as in convert', () => {
    const ann = annotations({
      [STATUS]: [vhostStatus('net1', '/s/from-status')],
      [CONFIG_DATA]: [{ ifName: 'net1', config: { iftype: 'vhostuser', vhost: { mode: 'client', socketfile: 'from-config' } } }],
    });
    expect(list(ann, { config: { allowedSocketDirs: ['/s'] } }).interfaces.map((i) => [i.socketPath, i.source])).toEqual([['/s/from-status', STATUS]]);
  });

  it('a networks entry that names an interface the status does not yet list still resolves from configuration-data', () => {
    const ann = annotations({
      'k8s.v1.cni.cncf.io/networks': 'vms/blue@dpdk0',
      [CONFIG_DATA]: [{ ifName: 'dpdk0', config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile: 'abc-dpdk0' } } }],
    });
    expect(list(ann).interfaces.map((i) => [i.network, i.podInterface, i.socketPath])).toEqual([['vms/blue', 'dpdk0', '/var/lib/cni/usrcni/abc-dpdk0']]);
  });

  it('modeMap applies: a CNI that reports the host side is read swapped', () => {
    const ann = annotations({ [STATUS]: [vhostStatus('net1', '/var/lib/cni/usrcni/x')] });
    const listing = list(ann, { config: { modeMap: { deviceInfo: { server: 'client', client: 'server' } } } });
    expect(listing.interfaces[0]).toMatchObject({ mode: 'client', vdev: 'net_virtio_user0,path=/var/lib/cni/usrcni/x,server=0', kuryr: { mode: 'client' } });
  });

  it('never gives the stable vu-<hash> name: no QEMU binds it, the application uses the CNI socket', () => {
    const ann = annotations({ [STATUS]: [vhostStatus('net1', '/var/lib/cni/usrcni/0123456789ab-net1')] });
    expect(list(ann, { config: { stableSocketPaths: true } }).interfaces[0]?.socketPath).toBe('/var/lib/cni/usrcni/0123456789ab-net1');
  });

  it('a memif entry of the userspace CNI is passed over as not vhost-user, with the resolver reason', () => {
    const ann = annotations({ [CONFIG_DATA]: [{ ifName: 'net1', name: 'memif-net', config: { iftype: 'memif', memif: { role: 'master' } } }] });
    const listing = list(ann);
    expect(listing.interfaces).toEqual([]);
    expect(listing.passedOver).toEqual([expect.objectContaining({ podInterface: 'net1', network: 'memif-net', kind: 'not-vhost-user' })]);
    expect(listing.passedOver[0]?.reason).toContain("is iftype 'memif', not vhostuser");
  });

  it('an empty pod lists nothing', () => {
    expect(list(new Map())).toEqual({ interfaces: [], passedOver: [] });
  });
});

describe('listPodInterfaces: hostile input', () => {
  const single = (path: string, extra: Record<string, unknown> = {}) => annotations({ [STATUS]: [vhostStatus('net1', path, extra)] });

  it('confinement: a socket outside the allowed directories, an OVS control file, a .. segment', () => {
    expect(errorOf(() => list(single('/var/run/openvswitch/vhu0')))).toEqual({
      code: 'E_SOCKET_PATH',
      message: `interface 'net1': socket path "/var/run/openvswitch/vhu0" from ${STATUS} is outside the allowed socket directories /var/lib/cni/usrcni/`,
    });
    expect(errorOf(() => list(single('/var/lib/cni/usrcni/db.sock'))).message).toContain('names an OVS control file (db.sock)');
    expect(errorOf(() => list(single('/var/lib/cni/usrcni/../../../run/openvswitch/db.sock'))).code).toBe('E_SOCKET_PATH');
    // The app-netutil sample's mapped-dir is not allowed unless the operator allows it.
    expect(errorOf(() => list(sample('app-netutil/annotations_userspace_no_deviceinfo'))).code).toBe('E_SOCKET_PATH');
  });

  it('a socket path with devargs syntax (, = [ ]) could smuggle more devargs into --vdev: refused', () => {
    for (const path of ['/var/lib/cni/usrcni/a,server=1', '/var/lib/cni/usrcni/a=b', '/var/lib/cni/usrcni/[0-1]']) {
      expect(errorOf(() => list(single(path))), path).toEqual({
        code: 'E_SOCKET_PATH',
        message: `interface 'net1': socket path ${JSON.stringify(path)} contains one of , = [ ], which DPDK's devargs parser splits at: no --vdev can name it`,
      });
    }
  });

  it('a socket path longer than sun_path, or with control characters', () => {
    expect(errorOf(() => list(single(`/var/lib/cni/usrcni/${'a'.repeat(100)}`))).message).toContain('more than the 107 a unix socket allows');
    expect(errorOf(() => list(single('/var/lib/cni/usrcni/a\nb'))).message).toContain('control or non-XML characters');
  });

  it('a MAC that is not six octets (it would reach --vdev), or multicast', () => {
    expect(errorOf(() => list(single('/var/lib/cni/usrcni/x', { mac: '02:00:00:00:00:01,server=1' })))).toEqual({
      code: 'E_MAC',
      message: 'interface \'net1\': MAC "02:00:00:00:00:01,server=1" is not six hex octets',
    });
    expect(errorOf(() => list(single('/var/lib/cni/usrcni/x', { mac: '01:00:5e:00:00:01' }))).message).toContain('multicast');
  });

  it('a mode that is neither server nor client', () => {
    const ann = annotations({ [STATUS]: [vhostStatus('net1', '/var/lib/cni/usrcni/x', {}, 'both')] });
    expect(errorOf(() => list(ann)).code).toBe('E_MODE');
  });

  it('SR-IOV entries: a malformed or missing pci-address, an unknown device-info version', () => {
    const pci = (device: Record<string, unknown>) => annotations({ [STATUS]: [{ name: 'default/sriov', interface: 'net1', 'device-info': { type: 'pci', ...device } }] });
    expect(errorOf(() => list(pci({ version: '1.1.0', pci: { 'pci-address': '0000:01:02.5; rm -rf /' } })))).toEqual({
      code: 'E_ANNOTATION_SCHEMA',
      message: `annotation ${STATUS}: device-info of pod interface net1: type pci with pci.pci-address "0000:01:02.5; rm -rf /" is not dddd:bb:ss.f`,
    });
    expect(errorOf(() => list(pci({ version: '1.1.0' }))).message).toContain('type pci with no pci.pci-address');
    expect(errorOf(() => list(pci({ version: '2.0.0', pci: { 'pci-address': '0000:01:02.5' } }))).message).toContain("unsupported device-info version '2.0.0'");
    expect(errorOf(() => list(pci({ pci: { 'pci-address': 7 } }))).code).toBe('E_ANNOTATION_SCHEMA');
  });

  it('bad annotation JSON or shape fails naming the annotation, as convert does', () => {
    expect(errorOf(() => list(annotations({ [STATUS]: '[{' }))).code).toBe('E_ANNOTATION_JSON');
    expect(errorOf(() => list(annotations({ [CONFIG_DATA]: [{ ifName: 3 }] }))).code).toBe('E_ANNOTATION_SCHEMA');
  });

  it('trust: socket annotations that also stand in the owner annotations (a VMI\'s) are set aside, and the interface says so', () => {
    const ann = annotations({
      [STATUS]: [{ name: 'vms/blue', interface: 'net1' }],
      [CONFIG_DATA]: [{ ifName: 'net1', config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile: 'x' } } }],
      [MAPPED_DIR]: '/var/lib/cni/usrcni/',
    });
    const owner = { [CONFIG_DATA]: ann.get(CONFIG_DATA), [MAPPED_DIR]: '/var/lib/cni/usrcni/' };
    expect(list(ann).interfaces).toHaveLength(1);
    const listing = list(ann, { ownerAnnotations: owner });
    expect(listing.interfaces).toEqual([]);
    expect(listing.passedOver).toEqual([expect.objectContaining({ podInterface: 'net1', kind: 'untrusted' })]);
    // The pod's default network never had a socket: it stays "not vhost-user", without the trust story.
    const withDefault = annotations({ ...Object.fromEntries(ann), [STATUS]: [{ name: 'k8s-pod-network', interface: 'eth0', default: true }, { name: 'vms/blue', interface: 'net1' }] });
    const both = list(withDefault, { ownerAnnotations: owner }).passedOver;
    expect(both.map((p) => [p.podInterface, p.kind])).toEqual([['eth0', 'not-vhost-user'], ['net1', 'untrusted']]);
    expect(both[0]?.reason).not.toContain('ignored');
    expect(listing.passedOver[0]?.reason).toContain(`ignored ${CONFIG_DATA}, ${MAPPED_DIR}`);
    // An owner-written SR-IOV entry is not listed either: the whole network-status is set aside.
    const pci = annotations({ [STATUS]: [{ name: 'default/sriov', interface: 'net1', 'device-info': { type: 'pci', pci: { 'pci-address': '0000:01:02.5' } } }] });
    expect(list(pci, { ownerAnnotations: { [STATUS]: pci.get(STATUS) } }).passedOver).toEqual([]);
  });
});

describe('virtioUserVdev', () => {
  it('server=1 when the pod side is the server, server=0 when OVS listens; mac only when known', () => {
    expect(virtioUserVdev(3, { podInterface: 'net1', socketPath: '/s/x', mode: 'server' })).toBe('net_virtio_user3,path=/s/x,server=1');
    expect(virtioUserVdev(0, { podInterface: 'net1', socketPath: '/s/x', mode: 'client', mac: '02:00:00:00:00:01' })).toBe('net_virtio_user0,path=/s/x,server=0,mac=02:00:00:00:00:01');
  });
});

describe('listPodInterfaces: arbitrary annotations', () => {
  // Paths and MACs drawn from printable text with the devargs syntax and path tricks mixed in.
  const hostile = fc.stringMatching(/^[a-zA-Z0-9,=[\]./: _-]{0,40}$/);
  // Mostly good values, so that many draws list something and the rest attack one fact at a time.
  const often = <T,>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: bad, weight: 1 });
  const path = often(
    fc.constantFrom('/var/lib/cni/usrcni/a-net1', '/s/b', 'abc-net1'),
    fc.oneof(hostile, hostile.map((p) => `/var/lib/cni/usrcni/${p}`), fc.constantFrom('/var/lib/cni/usrcni/../x', '/var/lib/cni/usrcni/db.sock', '/s/a,server=0')),
  );
  const mode = often(fc.constantFrom('server', 'client'), fc.string({ maxLength: 6 }));
  const mac = often(fc.constant('02:00:00:00:00:01'), hostile);
  const entry = fc.record({
    name: fc.constantFrom('vms/blue', 'blue', '', 'k8s-pod-network'),
    interface: fc.constantFrom('net1', 'net2', 'eth0'),
    mac,
    'device-info': fc.oneof(
      fc.record({ type: fc.constant('vhost-user'), 'vhost-user': fc.record({ mode, path }) }),
      fc.record({ type: fc.constant('pci'), version: often(fc.constantFrom('1.0.0', 'v1.0.0'), fc.constant('2')), pci: fc.record({ 'pci-address': often(fc.constant('0000:01:02.5'), hostile) }) }),
    ),
  }, { requiredKeys: ['name', 'interface'] });
  const configEntry = fc.record({ ifName: fc.constantFrom('net1', 'net3'), config: fc.record({ iftype: fc.constantFrom('vhostuser', 'memif'), vhost: fc.record({ mode, socketfile: path }) }) });

  it('lists only what --vdev can carry, with the path and mode it lists, or throws a ConverterError', () => {
    let listed = 0;
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 3 }), fc.array(configEntry, { maxLength: 2 }), fc.boolean(), (status, config, mapped) => {
        const ann = annotations({ [STATUS]: status, [CONFIG_DATA]: config, ...(mapped ? { [MAPPED_DIR]: '/var/lib/cni/usrcni/' } : {}) });
        let listing;
        try {
          listing = list(ann, { config: { allowedSocketDirs: ['/s'] } });
        } catch (err) {
          if (err instanceof ConverterError) return;
          throw err;
        }
        listed += listing.interfaces.length;
        listing.interfaces.forEach((i, n) => {
          // The devargs parse back to exactly the listed facts: nothing smuggled in.
          const pairs = i.vdev.split(',').map((kv) => kv.split('='));
          expect(pairs.every((kv) => kv.length === (kv[0] === `net_virtio_user${n}` ? 1 : 2))).toBe(true);
          expect(Object.fromEntries(pairs.slice(1))).toEqual({ path: i.socketPath, server: i.mode === 'server' ? '1' : '0', ...(i.mac !== undefined ? { mac: i.mac } : {}) });
          expect(i.socketPath.startsWith('/var/lib/cni/usrcni/') || i.socketPath.startsWith('/s/')).toBe(true);
        });
        for (const p of listing.passedOver) if (p.kind === 'sr-iov') expect(p.pciAddress).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
      }),
      { numRuns: 300 },
    );
    // Not vacuous: some draws do list interfaces.
    expect(listed).toBeGreaterThan(50);
  });
});

describe('unreportedAttachments (what interfaces --wait waits for)', () => {
  it('each requested attachment takes one network-status entry of its NAD, by interface when it names one', () => {
    const networks = 'k8s.v1.cni.cncf.io/networks';
    expect(unreportedAttachments(sample('app-netutil/annotations_userspace_no_deviceinfo'))).toEqual([]);
    expect(unreportedAttachments(sample('app-netutil/annotations_deviceinfo_pci'))).toEqual([]);
    expect(unreportedAttachments(new Map())).toEqual([]);
    const ann = annotations({ [networks]: 'vms/blue, vms/blue, red@net3', [STATUS]: [{ name: 'vms/blue', interface: 'net1' }, { name: 'red', interface: 'net2' }] });
    expect(unreportedAttachments(ann).map((m) => m.what)).toEqual(['vms/blue', 'red@net3']);
    expect(unreportedAttachments(ann, 'vms').map((m) => m.message)).toEqual(['attachment vms/blue is not in network-status yet', 'attachment vms/red@net3 is not in network-status yet']);
    expect(errorOf(() => unreportedAttachments(annotations({ [networks]: 'a/b/c' }))).code).toBe('E_ANNOTATION_SCHEMA');
  });
});
