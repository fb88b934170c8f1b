import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConverterConfig } from '../../converter/src/config.js';
import { parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { resolveAvailable, resolveInterfaces } from '../../converter/src/resolve.js';
import { parseVmi } from '../../converter/src/vmi.js';
import { errorOf } from './expect-error.js';

const samples = join(import.meta.dirname, '../../fixtures/podnetinfo');
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const CONFIG_DATA = 'userspace/configuration-data';

type Iface = Record<string, unknown> & { name: string };

/** A VMI in namespace `vms` with a masquerade pod network and the given vhost-user interfaces. */
function vmiOf(ifaces: Iface[], opts: { nads?: Record<string, string>; domain?: Record<string, unknown>; status?: unknown } = {}) {
  return parseVmi({
    metadata: { name: 'vm1', namespace: 'vms' },
    spec: {
      domain: { ...opts.domain, devices: { ...(opts.domain?.['devices'] as object), interfaces: [{ name: 'default', masquerade: {} }, ...ifaces] } },
      networks: [{ name: 'default', pod: {} }, ...ifaces.map((i) => ({ name: i.name, multus: { networkName: opts.nads?.[i.name] ?? `nad-${i.name}` } }))],
    },
    ...(opts.status !== undefined ? { status: opts.status } : {}),
  });
}

const deviceInfo = (path: string, mode = 'server', version: string | undefined = '1.1.0') => ({
  type: 'vhost-user',
  ...(version !== undefined ? { version } : {}),
  'vhost-user': { mode, path },
});

function annotations(entries: Record<string, unknown>): Map<string, string> {
  return new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

/**
 * The directories these tests' socket paths lie in, and the CNI's paths as they are: confinement
 * and the stable names are tested in socket-path.test.ts.
 */
const TEST_SOCKET_DIRS = ['/s/', '/n/', '/var/run/', '/run/vhost', '/var/lib/cni/usrspcni/'];

function resolve(ann: Map<string, string>, vmi: ReturnType<typeof vmiOf>, config: Record<string, unknown> = {}) {
  return resolveInterfaces(ann, vmi, parseConverterConfig({ allowedSocketDirs: TEST_SOCKET_DIRS, stableSocketPaths: false, ...config }));
}


describe('resolveInterfaces: which interfaces', () => {
  const ann = annotations({
    [STATUS]: [
      { name: 'vms/nad-a', interface: 'pod1', 'device-info': deviceInfo('/s/a') },
      { name: 'vms/nad-b', interface: 'pod2', 'device-info': deviceInfo('/s/b') },
      { name: 'vms/nad-c', interface: 'pod3', 'device-info': deviceInfo('/s/c') },
    ],
  });

  it('takes vhostuser: {} and configured bindings, in VMI spec order, skipping absent ones', () => {
    const vmi = vmiOf([
      { name: 'c', binding: { name: 'vhostuser' } },
      { name: 'a', vhostuser: {} },
      { name: 'b', binding: { name: 'passt' } },
    ]);
    expect(resolve(ann, vmi).map((r) => r.vmiInterface)).toEqual(['c', 'a']);
    expect(resolve(ann, vmi, { bindingNames: ['passt'] }).map((r) => r.vmiInterface)).toEqual(['a', 'b']);
    const absent = vmiOf([{ name: 'a', vhostuser: {}, state: 'absent' }]);
    expect(resolve(new Map(), absent)).toEqual([]);
  });

  it('returns nothing for a VMI without vhost-user interfaces, whatever the annotations', () => {
    expect(resolve(annotations({ [STATUS]: 'not json' }), vmiOf([]))).toEqual([]);
  });
});

describe('resolveInterfaces: pod interface', () => {
  const socketFor = (ifName: string) => ({ [CONFIG_DATA]: [{ ifName, config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile: `abc-${ifName}` } } }] });
  const blue = [{ name: 'blue', vhostuser: {} }];

  it('uses the network-status entry of the NAD, namespaced or not, both ways', () => {
    for (const [statusName, nad] of [
      ['vms/nad-blue', 'nad-blue'],
      ['nad-blue', 'vms/nad-blue'],
      ['vms/nad-blue', 'vms/nad-blue'],
    ] as const) {
      const ann = annotations({ [STATUS]: [{ name: statusName, interface: 'net7' }], ...socketFor('net7') });
      const [r] = resolve(ann, vmiOf(blue, { nads: { blue: nad } }));
      expect(r?.podInterface, `${statusName} vs ${nad}`).toBe('net7');
    }
  });

  it('uses the interface of the networks annotation when Multus has not reported yet', () => {
    const ann = annotations({ 'k8s.v1.cni.cncf.io/networks': 'vms/nad-blue@dpdk9', ...socketFor('dpdk9') });
    expect(resolve(ann, vmiOf(blue))[0]?.podInterface).toBe('dpdk9');
  });

  it('uses VMI status.interfaces[].podInterfaceName next', () => {
    const ann = annotations(socketFor('eth_vhost0'));
    const vmi = vmiOf(blue, { status: { interfaces: [{ name: 'blue', podInterfaceName: 'eth_vhost0' }] } });
    expect(resolve(ann, vmi)[0]?.podInterface).toBe('eth_vhost0');
  });

  it('falls back to the hashed or the ordinal name, whichever the annotations contain', () => {
    expect(resolve(annotations(socketFor('pod16477688c0e')), vmiOf(blue))[0]?.podInterface).toBe('pod16477688c0e');
    expect(resolve(annotations(socketFor('net1')), vmiOf(blue))[0]?.podInterface).toBe('net1');
  });

  it('tells two attachments of one NAD apart by the names KubeVirt gives', () => {
    const vmi = vmiOf([{ name: 'blue', vhostuser: {} }, { name: 'red', vhostuser: {} }], { nads: { blue: 'shared', red: 'shared' } });
    const ann = annotations({
      [STATUS]: [
        { name: 'vms/shared', interface: 'podb1f51a511f1', 'device-info': deviceInfo('/s/red') },
        { name: 'vms/shared', interface: 'pod16477688c0e', 'device-info': deviceInfo('/s/blue') },
      ],
    });
    expect(resolve(ann, vmi).map((r) => [r.vmiInterface, r.podInterface, r.socketPath])).toEqual([
      ['blue', 'pod16477688c0e', '/s/blue'],
      ['red', 'podb1f51a511f1', '/s/red'],
    ]);
    const ambiguous = annotations({ [STATUS]: [{ name: 'vms/shared', interface: 'x1' }, { name: 'vms/shared', interface: 'x2' }] });
    expect(errorOf(() => resolve(ambiguous, vmi))).toMatchInlineSnapshot(`
      {
        "code": "E_POD_INTERFACE_NOT_FOUND",
        "message": "interface 'blue': network-status lists 2 attachments of NAD vms/shared (x1, x2) and none is named pod16477688c0e or net1",
      }
    `);
  });
});

describe('resolveInterfaces: socket and mode', () => {
  const vmi = vmiOf([{ name: 'blue', vhostuser: {} }]);
  const status = (extra: Record<string, unknown>) => ({ [STATUS]: [{ name: 'vms/nad-blue', interface: 'pod16477688c0e', ...extra }] });
  const one = (ann: Map<string, string>, config: Record<string, unknown> = {}) => resolve(ann, vmi, config)[0];

  it('takes an absolute device-info path as it is', () => {
    expect(one(annotations(status({ 'device-info': deviceInfo('/var/run/vhost.sock') })))).toMatchObject({ socketPath: '/var/run/vhost.sock', mode: 'server' });
  });

  it('joins a bare device-info file name to the socket directory with a real path join', () => {
    const ann = annotations(status({ 'device-info': deviceInfo('2ea1931c-2935-net1', 'client', undefined) }));
    expect(one(ann)).toMatchObject({ socketPath: '/var/lib/cni/usrcni/2ea1931c-2935-net1', mode: 'client' });
    expect(one(ann, { socketDir: '/run/vhost' })?.socketPath).toBe('/run/vhost/2ea1931c-2935-net1');
  });

  it('reads device-info from kubevirt.io/network-info by VMI network name', () => {
    const ann = annotations({ ...status({}), 'kubevirt.io/network-info': { interfaces: [{ network: 'blue', deviceInfo: deviceInfo('/n/blue.sock', 'server', 'v1.0.0') }] } });
    expect(one(ann)).toMatchObject({ socketPath: '/n/blue.sock', socketSource: 'kubevirt.io/network-info' });
  });

  it('joins a bare configuration-data socketfile to mapped-dir, else to the socket directory', () => {
    const data = { [CONFIG_DATA]: [{ ifName: 'pod16477688c0e', config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile: '037ecb6703b0-pod16477688c0e' } } }] };
    expect(one(annotations({ ...status({}), ...data, 'userspace/mapped-dir': '/var/lib/cni/usrspcni' }))?.socketPath).toBe('/var/lib/cni/usrspcni/037ecb6703b0-pod16477688c0e');
    expect(one(annotations({ ...status({}), ...data }))?.socketPath).toBe('/var/lib/cni/usrcni/037ecb6703b0-pod16477688c0e');
    expect(one(annotations({ ...status({}), ...data }))?.socketSource).toBe('userspace/configuration-data');
  });

  it('maps modes through the configurable table', () => {
    const ann = annotations(status({ 'device-info': deviceInfo('/s/x', 'server') }));
    expect(one(ann, { modeMap: { deviceInfo: { server: 'client' } } })?.mode).toBe('client');
    const data = annotations({ ...status({}), [CONFIG_DATA]: [{ ifName: 'pod16477688c0e', config: { vhost: { mode: 'client', socketfile: '/s/x' } } }] });
    expect(one(data)?.mode).toBe('client');
    expect(one(data, { modeMap: { configurationData: { client: 'server' } } })?.mode).toBe('server');
  });

  it("refuses a '..' in a socket path or mapped-dir instead of resolving it away", () => {
    const climb = annotations(status({ 'device-info': deviceInfo('../../run/openvswitch/db.sock') }));
    expect(errorOf(() => one(climb))).toMatchObject({ code: 'E_SOCKET_PATH' });
    expect(errorOf(() => one(annotations(status({ 'device-info': deviceInfo('/var/lib/cni/usrcni/../x') }))))).toMatchObject({ code: 'E_SOCKET_PATH' });
    const dir = annotations({ ...status({ 'device-info': deviceInfo('sock') }), 'userspace/mapped-dir': '/var/lib/../../run' });
    expect(errorOf(() => one(dir)).message).toContain(`socket path "/var/lib/../../run" contains a '..' segment`);
  });

  it('pins the errors for unusable socket facts', () => {
    const cfg = (vhost: Record<string, unknown>, iftype = 'vhostuser') => annotations({ ...status({}), [CONFIG_DATA]: [{ ifName: 'pod16477688c0e', config: { iftype, vhost } }] });
    const cases = {
      badMode: annotations(status({ 'device-info': deviceInfo('/s/x', 'both') })),
      badVersion: annotations(status({ 'device-info': deviceInfo('/s/x', 'server', '2.0.0') })),
      noVhostSection: annotations(status({ 'device-info': { type: 'vhost-user', version: '1.1.0' } })),
      memif: cfg({ socketfile: 'x' }, 'memif'),
      noSocketfile: cfg({ mode: 'server' }),
      noMode: cfg({ socketfile: 'x' }),
      pciOnly: annotations(status({ 'device-info': { type: 'pci', version: '1.0.0', pci: { 'pci-address': '0000:65:00.4' } } })),
      nothing: annotations(status({})),
    };
    expect(Object.fromEntries(Object.entries(cases).map(([name, ann]) => [name, errorOf(() => one(ann))]))).toMatchInlineSnapshot(`
      {
        "badMode": {
          "code": "E_MODE",
          "message": "interface 'blue': device-info of pod interface pod16477688c0e: mode 'both' is neither server nor client",
        },
        "badVersion": {
          "code": "E_ANNOTATION_SCHEMA",
          "message": "interface 'blue': device-info of pod interface pod16477688c0e: unsupported device-info version '2.0.0'",
        },
        "memif": {
          "code": "E_SOCKET_NOT_FOUND",
          "message": "interface 'blue': userspace/configuration-data for pod16477688c0e is iftype 'memif', not vhostuser",
        },
        "noMode": {
          "code": "E_MODE",
          "message": "interface 'blue': userspace/configuration-data for pod16477688c0e has no vhost.mode",
        },
        "noSocketfile": {
          "code": "E_SOCKET_NOT_FOUND",
          "message": "interface 'blue': userspace/configuration-data for pod16477688c0e has no vhost.socketfile",
        },
        "noVhostSection": {
          "code": "E_ANNOTATION_SCHEMA",
          "message": "interface 'blue': device-info of pod interface pod16477688c0e: type vhost-user without a "vhost-user" section",
        },
        "nothing": {
          "code": "E_SOCKET_NOT_FOUND",
          "message": "interface 'blue': no vhost-user socket for pod interface pod16477688c0e (NAD vms/nad-blue): no vhost-user device-info, no userspace/configuration-data entry with ifName pod16477688c0e",
        },
        "pciOnly": {
          "code": "E_SOCKET_NOT_FOUND",
          "message": "interface 'blue': no vhost-user socket for pod interface pod16477688c0e (NAD vms/nad-blue): device-info is type 'pci', no userspace/configuration-data entry with ifName pod16477688c0e",
        },
      }
    `);
  });
});

describe('resolveInterfaces: NIC facts', () => {
  const ann = annotations({
    [STATUS]: [
      { name: 'vms/nad-a', interface: 'pod1', mac: '02:00:00:00:00:aa', mtu: 9000, 'device-info': deviceInfo('/s/a') },
      { name: 'vms/nad-b', interface: 'pod2', mac: ' 02:00:00:00:00:bb', 'device-info': deviceInfo('/s/b') },
    ],
  });

  it('takes the MAC from the VMI first, then network-status; MTU from network-status', () => {
    const vmi = vmiOf([
      { name: 'a', vhostuser: {}, macAddress: 'ca:fe:ca:fe:42:42' },
      { name: 'b', vhostuser: {} },
    ]);
    const [a, b] = resolve(ann, vmi);
    expect(a).toMatchObject({ mac: 'ca:fe:ca:fe:42:42', mtu: 9000 });
    expect(b).toMatchObject({ mac: '02:00:00:00:00:bb' });
    expect(b).not.toHaveProperty('mtu');
  });

  it('sets queues to the vCPU count, capped at 256, only with networkInterfaceMultiqueue', () => {
    const iface = [{ name: 'a', vhostuser: {} }];
    const queues = (domain: Record<string, unknown>) => resolve(ann, vmiOf(iface, { domain }))[0]?.queues;
    expect(queues({ cpu: { cores: 2, sockets: 2, threads: 2 }, devices: { networkInterfaceMultiqueue: true } })).toBe(8);
    expect(queues({ cpu: { cores: 300 }, devices: { networkInterfaceMultiqueue: true } })).toBe(256);
    expect(queues({ cpu: { cores: 8 } })).toBeUndefined();
    expect(queues({ devices: { networkInterfaceMultiqueue: true } })).toBe(1);
  });

  it('carries model, queue sizes, PCI address, ACPI index and boot order', () => {
    const vmi = vmiOf([{ name: 'a', vhostuser: {}, pciAddress: '0000:81:01.0', acpiIndex: 3, bootOrder: 2 }], { domain: { devices: { useVirtioTransitional: true } } });
    expect(resolve(ann, vmi, { rxQueueSize: 512, txQueueSize: 256 })[0]).toEqual({
      vmiInterface: 'a',
      network: 'a',
      podInterface: 'pod1',
      socketPath: '/s/a',
      socketSource: 'k8s.v1.cni.cncf.io/network-status',
      mode: 'server',
      model: 'virtio-transitional',
      rxQueueSize: 512,
      txQueueSize: 256,
      mac: '02:00:00:00:00:aa',
      mtu: 9000,
      pciAddress: { domain: '0x0000', bus: '0x81', slot: '0x01', function: '0x0' },
      acpiIndex: 3,
      bootOrder: 2,
    });
  });
});

describe('resolveInterfaces: VMI errors', () => {
  it('reads a DRA resourceClaim network (KubeVirt 1.9 NetworkDevicesWithDRA) from the VMI claims, naming the claim (test/converter/dra.test.ts has the rest)', () => {
    // The VMI shape of kubevirt v1.9.0 staging/src/kubevirt.io/api/core/v1 (Network.ResourceClaim).
    const dra = parseVmi({
      spec: { domain: { devices: { interfaces: [{ name: 'dpdk', binding: { name: 'vhostuser' } }] } }, networks: [{ name: 'dpdk', resourceClaim: { claimName: 'ovs', requestName: 'vhu' } }] },
    });
    expect(errorOf(() => resolve(new Map(), dra))).toEqual({ code: 'E_DRA_CLAIM', message: 'interface \'dpdk\': network \'dpdk\' resourceClaim {claimName: "ovs", requestName: "vhu"} names no entry of spec.resourceClaims' });
  });

  it('pins the errors for interfaces without a usable network', () => {
    const noNetwork = parseVmi({ spec: { domain: { devices: { interfaces: [{ name: 'x', vhostuser: {} }] } }, networks: [] } });
    const podNetwork = parseVmi({ spec: { domain: { devices: { interfaces: [{ name: 'x', binding: { name: 'vhostuser' } }] } }, networks: [{ name: 'x', pod: {} }] } });
    const nothingYet = vmiOf([{ name: 'blue', vhostuser: {} }]);
    expect([errorOf(() => resolve(new Map(), noNetwork)), errorOf(() => resolve(new Map(), podNetwork)), errorOf(() => resolve(new Map(), nothingYet))]).toMatchInlineSnapshot(`
      [
        {
          "code": "E_NETWORK_NOT_FOUND",
          "message": "interface 'x': no network named 'x' in spec.networks",
        },
        {
          "code": "E_NOT_MULTUS",
          "message": "interface 'x': network 'x' is neither a Multus nor a DRA network",
        },
        {
          "code": "E_POD_INTERFACE_NOT_FOUND",
          "message": "interface 'blue': no pod interface for network 'blue' (NAD vms/nad-blue) in network-status, networks or userspace/configuration-data",
        },
      ]
    `);
  });
});

describe('resolveAvailable', () => {
  it('returns what is resolved and lists the rest as pending', () => {
    const vmi = vmiOf([{ name: 'a', vhostuser: {} }, { name: 'b', vhostuser: {} }]);
    const ann = annotations({ [STATUS]: [{ name: 'vms/nad-a', interface: 'pod1', 'device-info': deviceInfo('/s/a') }] });
    const outcome = resolveAvailable(ann, vmi, parseConverterConfig({ allowedSocketDirs: TEST_SOCKET_DIRS, stableSocketPaths: false }));
    expect(outcome.resolved.map((r) => r.vmiInterface)).toEqual(['a']);
    expect(outcome.pending.map((p) => [p.iface, p.error.code])).toEqual([['b', 'E_POD_INTERFACE_NOT_FOUND']]);
  });
});

describe('public samples', () => {
  it('resolves the juniper virt-launcher annotations: bare socket name, no version, MAC from network-status', () => {
    const ann = parseDownwardApiFile(readFileSync(join(samples, 'juniper-pr218/annotations'), 'utf8'));
    const vmi = parseVmi({
      metadata: { name: 'vm-single-virtio', namespace: 'kubevirttest' },
      spec: {
        domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }, { name: 'vhost-user-vn-blue', vhostuser: {} }] } },
        networks: [{ name: 'default', pod: {} }, { name: 'vhost-user-vn-blue', multus: { networkName: 'vn-blue' } }],
      },
    });
    expect(resolve(ann, vmi)).toEqual([
      {
        vmiInterface: 'vhost-user-vn-blue',
        network: 'vhost-user-vn-blue',
        podInterface: 'net1',
        socketPath: '/var/lib/cni/usrcni/2ea1931c-2935-net1',
        socketSource: 'k8s.v1.cni.cncf.io/network-status',
        mode: 'server',
        model: 'virtio-non-transitional',
        rxQueueSize: 1024,
        txQueueSize: 1024,
        mac: '02:c6:da:d3:ab:07',
      },
    ]);
  });

  it('resolves both userspace CNI interfaces of the app-netutil sample', () => {
    const ann = parseDownwardApiFile(readFileSync(join(samples, 'app-netutil/annotations_userspace_no_deviceinfo'), 'utf8'));
    const vmi = parseVmi({
      spec: {
        domain: { devices: { interfaces: [{ name: 'one', vhostuser: {} }, { name: 'two', vhostuser: {} }] } },
        networks: [{ name: 'one', multus: { networkName: 'userspace-ovs-net-1' } }, { name: 'two', multus: { networkName: 'userspace-ovs-net-2' } }],
      },
    });
    expect(resolve(ann, vmi).map((r) => [r.podInterface, r.socketPath, r.mode])).toEqual([
      ['net1', '/var/lib/cni/usrspcni/037ecb6703b0-net1', 'server'],
      ['net2', '/var/lib/cni/usrspcni/037ecb6703b0-net2', 'server'],
    ]);
  });
});
