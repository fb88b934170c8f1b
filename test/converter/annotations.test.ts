import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigurationData } from '../../converter/src/annotations/configuration-data.js';
import { isSupportedDeviceInfoVersion } from '../../converter/src/annotations/device-info.js';
import { isSameNad, parseNadName } from '../../converter/src/annotations/nad-name.js';
import { parseNetworkInfo } from '../../converter/src/annotations/network-info.js';
import { parseNetworkStatus } from '../../converter/src/annotations/network-status.js';
import { parseNetworksAnnotation } from '../../converter/src/annotations/networks.js';
import { readPodAnnotations } from '../../converter/src/annotations/pod-annotations.js';
import { parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { errorOf } from './expect-error.js';

const samples = join(import.meta.dirname, '../../fixtures/podnetinfo');
/** A public sample: a downward-API file, or one decoded annotation value (decoded/<file>). */
const readSample = (path: string): string => readFileSync(join(samples, path), 'utf8');


describe('parseNetworkStatus', () => {
  it('reads the juniper vhost-user entry with a bare path and no version', () => {
    const entries = parseNetworkStatus(readSample('decoded/kubevirt-community-pr218_juniper_network-status.decoded.json'));
    expect(entries[1]).toMatchObject({
      name: 'kubevirttest/vn-blue',
      interface: 'net1',
      mac: '02:c6:da:d3:ab:07',
      'device-info': { type: 'vhost-user', 'vhost-user': { mode: 'server', path: '2ea1931c-2935-net1' } },
    });
    expect(entries[1]?.['device-info']?.version).toBeUndefined();
  });

  it('reads KubeVirt hashed names and pci device-info, ignoring unknown fields', () => {
    const entries = parseNetworkStatus(readSample('decoded/network-status.v1.x-hashed-with-deviceinfo.json'));
    expect(entries.map((e) => e.interface)).toEqual([undefined, 'podb260539511e']);
    expect(entries[1]?.['device-info']?.type).toBe('pci');
  });

  it('names the annotation and the JSON path when the shape is wrong', () => {
    expect(errorOf(() => parseNetworkStatus('[{"name":"a","interface":7}]'))).toMatchInlineSnapshot(`
      {
        "code": "E_ANNOTATION_SCHEMA",
        "message": "annotation k8s.v1.cni.cncf.io/network-status: [0].interface: Invalid input: expected string, received number",
      }
    `);
    expect(errorOf(() => parseNetworkStatus('{"name":"a"}', 'k8s.v1.cni.cncf.io/networks-status'))).toMatchInlineSnapshot(`
      {
        "code": "E_ANNOTATION_SCHEMA",
        "message": "annotation k8s.v1.cni.cncf.io/networks-status: Invalid input: expected array, received object",
      }
    `);
    expect(errorOf(() => parseNetworkStatus('[{"name":'))).toMatchObject({ code: 'E_ANNOTATION_JSON' });
  });
});

describe('device-info versions', () => {
  it.each([
    ['1.1.0', true],
    ['1.0.0', true],
    ['v1.0.0', true],
    [undefined, true],
    ['2.0.0', false],
    ['latest', false],
  ])('%s supported: %s', (version, ok) => {
    expect(isSupportedDeviceInfoVersion(version)).toBe(ok);
  });
});

describe('parseConfigurationData', () => {
  it('reads both userspace CNI samples: bare and absolute socketfile', () => {
    const ovs = parseConfigurationData(readSample('decoded/app-netutil_userspace_configuration-data.decoded.json'));
    expect(ovs.map((e) => [e.ifName, e.config?.vhost?.mode, e.config?.vhost?.socketfile])).toEqual([
      ['net1', 'server', '037ecb6703b0-net1'],
      ['net2', 'server', '037ecb6703b0-net2'],
    ]);
    const nimbess = parseConfigurationData(readSample('decoded/app-netutil_nimbess_configuration-data.decoded.json'));
    expect(nimbess[0]?.config?.vhost?.socketfile).toMatch(/^\/var\/lib\/nimbess\/cni\/8ca6413b.*_vhost\.sock$/);
  });

  it('rejects an element without ifName, naming the annotation', () => {
    expect(errorOf(() => parseConfigurationData('[{"config":{}}]'))).toMatchInlineSnapshot(`
      {
        "code": "E_ANNOTATION_SCHEMA",
        "message": "annotation userspace/configuration-data: [0].ifName: Invalid input: expected string, received undefined",
      }
    `);
  });
});

describe('parseNetworkInfo', () => {
  it.each(['network-info-annotation.pci.json', 'network-info-annotation.pci-with-mac.json'])('reads KubeVirt %s', (file) => {
    const [iface] = parseNetworkInfo(readSample(`decoded/${file}`));
    expect(iface?.deviceInfo?.type).toBe('pci');
  });

  it('treats a missing interfaces list as empty', () => {
    expect(parseNetworkInfo('{}')).toEqual([]);
  });
});

describe('parseNetworksAnnotation', () => {
  it.each([
    ['multus-networks-annotation.v0.53-ordinal.json', [{ name: 'test1', namespace: 'namespace1', interface: 'net1' }]],
    ['multus-networks-annotation.krsacme-vhostuser-cni-args.json', [{ name: 'test1', namespace: 'namespace1', interface: 'net1' }]],
    [
      'multus-networks-annotation.v1.x-hashed.json',
      [
        { name: 'default', namespace: 'default', interface: 'pod37a8eec1ce1' },
        { name: 'test1', namespace: 'default', interface: 'pod1b4f0e98519' },
        { name: 'test1', namespace: 'other-namespace', interface: 'pod49dba5c72f0' },
      ],
    ],
    ['multus-networks-annotation.v1.x-issue13432-sriov.json', [{ name: 'sriov-net', namespace: 'smi-vm', interface: 'pod5862143f341', mac: '02:00:00:00:00:01' }]],
  ])('reads the JSON list %s', (file, expected) => {
    expect(parseNetworksAnnotation(readSample(`decoded/${file}`))).toEqual(expected);
  });

  it('reads the comma form [ns/]name[@iface] with spaces', () => {
    expect(parseNetworksAnnotation(' ns1/blue@dpdk0 , red,green@net3')).toEqual([
      { namespace: 'ns1', name: 'blue', interface: 'dpdk0' },
      { name: 'red' },
      { name: 'green', interface: 'net3' },
    ]);
    expect(parseNetworksAnnotation('sriov-net-a, sriov-net-b')).toEqual([{ name: 'sriov-net-a' }, { name: 'sriov-net-b' }]);
  });

  it('takes the pre-3.2 interfaceRequest spelling', () => {
    expect(parseNetworksAnnotation('[{"name":"a","interfaceRequest":"north"}]')).toEqual([{ name: 'a', interface: 'north' }]);
  });

  it('pins the errors of a malformed comma list', () => {
    const messages = ['a/b/c', 'a@b@c', 'a,,b', 'ns/@x'].map((text) => errorOf(() => parseNetworksAnnotation(text)).message);
    expect(messages).toMatchInlineSnapshot(`
      [
        "annotation k8s.v1.cni.cncf.io/networks: item 1 "a/b/c": more than one '/'",
        "annotation k8s.v1.cni.cncf.io/networks: item 1 "a@b@c": more than one '@'",
        "annotation k8s.v1.cni.cncf.io/networks: item 2 "": empty network name",
        "annotation k8s.v1.cni.cncf.io/networks: item 1 "ns/@x": empty network name",
      ]
    `);
  });
});

describe('NAD names', () => {
  it.each([
    ['blue', 'vms', 'vms/blue', true],
    ['vms/blue', undefined, 'blue', true],
    ['vms/blue', 'vms', 'other/blue', false],
    ['blue', undefined, 'red', false],
  ])('%s (default ns %s) vs %s: %s', (a, ns, b, same) => {
    expect(isSameNad(parseNadName(a, ns), parseNadName(b, ns))).toBe(same);
    expect(isSameNad(parseNadName(b, ns), parseNadName(a, ns))).toBe(same);
  });
});

describe('readPodAnnotations', () => {
  it('reads the userspace CNI sample: status, networks, configuration-data, mapped-dir', () => {
    const pod = readPodAnnotations(parseDownwardApiFile(readSample('app-netutil/annotations_userspace_no_deviceinfo')));
    expect(pod.networkStatus?.map((e) => e.interface)).toEqual(['eth0', 'net1', 'net2']);
    expect(pod.networks).toEqual([{ name: 'userspace-ovs-net-1' }, { name: 'userspace-ovs-net-2' }]);
    expect(pod.configurationData?.length).toBe(2);
    expect(pod.mappedDir).toBe('/var/lib/cni/usrspcni/');
  });

  it('falls back to the deprecated networks-status and the legacy mappedDir spelling', () => {
    const pod = readPodAnnotations(
      new Map([
        ['k8s.v1.cni.cncf.io/networks-status', '[{"name":"a","interface":"net1"}]'],
        ['userspace/mappedDir', '/var/lib/cni/usrspcni/'],
      ]),
    );
    expect(pod.networkStatus?.[0]?.interface).toBe('net1');
    expect(pod.mappedDir).toBe('/var/lib/cni/usrspcni/');
  });

  it('prefers network-status over networks-status', () => {
    const pod = readPodAnnotations(
      new Map([
        ['k8s.v1.cni.cncf.io/networks-status', '[{"name":"a","interface":"old"}]'],
        ['k8s.v1.cni.cncf.io/network-status', '[{"name":"a","interface":"new"}]'],
      ]),
    );
    expect(pod.networkStatus?.[0]?.interface).toBe('new');
  });

  it('reads every public annotations sample without error', () => {
    const files = [
      'annotations_deviceinfo_pci',
      'annotations_deviceinfo_vhost',
      'annotations_no_deviceinfo',
      'annotations_no_networkstatus',
      'annotations_userspace_no_deviceinfo',
    ].map((f) => `app-netutil/${f}`);
    files.push('juniper-pr218/annotations');
    for (const file of files) expect(() => readPodAnnotations(parseDownwardApiFile(readSample(file))), file).not.toThrow();
  });
});
