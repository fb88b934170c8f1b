// The Kube-OVN source: a Kube-OVN vhost-user NAD (as the webhook reads it and tells the sidecar)
// -> the socket in the pod's `vhostuser-sockets` volume, named after the pod interface
// (kubevirt consumption) or by the NAD -> QEMU server at the stable name, linked from Kube-OVN's.
// Real samples from fixtures/kube-ovn and fixtures/vmi (SOURCES.md); each check is attacked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runConvert } from '../../converter/src/cli.js';
import { ConverterError } from '../../converter/src/errors.js';
import { convert, type ConverterSettings } from '../../converter/src/index.js';
import { kubeOvnSocketName, parseKubeOvnNetworks, type KubeOvnNetwork } from '../../converter/src/kube-ovn.js';
import { parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import { validateDomainXml } from '../helpers/libvirt.js';
import { repoRoot, wrapInDomain } from './case-files.js';
import { errorOf } from './expect-error.js';

const dir = join(repoRoot, 'fixtures/kube-ovn');
const vmiFile = join(repoRoot, 'fixtures/vmi/kubeovn-kubevirt-dpdk_vm-dpdk.yaml');
const vmi = parseAllDocuments(readFileSync(vmiFile, 'utf8'))[0]?.toJS() as Record<string, unknown>;
const annotationsFile = join(dir, 'launcher-annotations');
const annotations = parseDownwardApiFile(readFileSync(annotationsFile, 'utf8'), annotationsFile);
/** What the webhook reads from fixtures/kube-ovn/nad-kubevirt-consumption.yaml. */
const KUBEVIRT: KubeOvnNetwork = { nad: 'default/ovn-dpdk', volume: 'vhostuser-sockets', provider: 'ovn-dpdk.default.ovn' };
/** ... and from nad-socket-name.yaml (Kube-OVN's own docs). */
const NAMED: KubeOvnNetwork = { nad: 'default/ovn-dpdk', volume: 'vhostuser-sockets', socket: 'sock', provider: 'ovn-dpdk.default.ovn' };
const DIR = '/var/lib/kube-ovn/vhostuser-sockets';
const POD_IFACE = 'pod6c270ef2f25'; // KubeVirt's hashed name of network net1
const STABLE = 'vu-6c270ef2f25';

function resolve(kubeOvn: KubeOvnNetwork[], extra: Record<string, string> = {}, config: ConverterSettings = {}) {
  return convert({ annotations: new Map([...annotations, ...Object.entries(extra)]), vmi, config: { ...config, kubeOvn } });
}

describe('Kube-OVN vhost-user NADs', () => {
  it("kubevirt consumption: the socket named after the pod interface in the volume's mount, QEMU at the stable name, MAC from Kube-OVN's annotation", async () => {
    const { interfaces, xml } = resolve([KUBEVIRT]);
    expect(interfaces).toHaveLength(1);
    expect(interfaces[0]).toMatchObject({
      vmiInterface: 'net1',
      podInterface: POD_IFACE,
      socketPath: `${DIR}/${STABLE}`,
      cniSocketPath: `${DIR}/${POD_IFACE}`,
      socketLink: { path: `${DIR}/${POD_IFACE}`, target: STABLE },
      socketSource: 'Kube-OVN NAD default/ovn-dpdk',
      mode: 'server',
      mac: '00:00:00:0A:30:89',
    });
    expect(xml).toContain(`<source type='unix' path='${DIR}/${STABLE}' mode='server'/>`);
    const check = await validateDomainXml(wrapInDomain(xml));
    expect(check.rng && check.parser, check.output).toBe(true);
  });

  it("a NAD's vhost_user_socket_name (Kube-OVN's docs): that name is linked to the stable one", () => {
    const [iface] = resolve([NAMED]).interfaces;
    expect(iface).toMatchObject({ socketPath: `${DIR}/${STABLE}`, socketLink: { path: `${DIR}/sock`, target: STABLE } });
  });

  it("without stable names the socket is Kube-OVN's path itself", () => {
    const [iface] = resolve([KUBEVIRT], {}, { stableSocketPaths: false }).interfaces;
    expect(iface?.socketPath).toBe(`${DIR}/${POD_IFACE}`);
    expect(iface?.socketLink).toBeUndefined();
  });

  it("network-status's MAC comes first when Multus reports one, the VMI's before both", () => {
    const status = JSON.stringify([{ name: 'default/ovn-dpdk', interface: POD_IFACE, mac: '02:00:00:0a:30:89', dns: {} }]);
    expect(resolve([KUBEVIRT], { 'k8s.v1.cni.cncf.io/network-status': status }).interfaces[0]?.mac).toBe('02:00:00:0a:30:89');
    const own = structuredClone(vmi) as { spec: { template: { spec: { domain: { devices: { interfaces: Record<string, unknown>[] } } } } } };
    (own.spec.template.spec.domain.devices.interfaces[0] as Record<string, unknown>)['macAddress'] = '02:00:00:00:00:07';
    expect(convert({ annotations, vmi: own, config: { kubeOvn: [KUBEVIRT] } }).interfaces[0]?.mac).toBe('02:00:00:00:00:07');
  });

  it("the sidecar's rewrite passes the webhook's networks to the converter", async () => {
    const rewrite = converterRewrite(annotationsFile, { kubeOvn: [KUBEVIRT], links: 'where-visible' });
    const { interfaces } = await rewrite({ domainXml: wrapInDomain(''), vmi, waitMs: 0, bindingNames: ['vhostuser'] });
    expect(interfaces[0]?.socketPath).toBe(`${DIR}/${STABLE}`);
  });

  it('the CLI takes the networks as the webhook sets them on the sidecar', async () => {
    const out = await runConvert(['--vmi', vmiFile, '--podinfo', annotationsFile, '--wait', '0', '--kube-ovn', JSON.stringify([KUBEVIRT])]);
    expect(out).toContain(`path='${DIR}/${STABLE}' mode='server'`);
  });
});

describe('Kube-OVN: trust and confinement', () => {
  it('nothing is guessed from the annotations: without the webhook telling, the pod has no socket', () => {
    expect(errorOf(() => resolve([])).code).toBe('E_SOCKET_NOT_FOUND');
  });

  it("a socket annotation for a Kube-OVN NAD is not Kube-OVN's and is never read (an OVSDB path in device-info)", () => {
    const forged = JSON.stringify([{ name: 'default/ovn-dpdk', interface: POD_IFACE, 'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode: 'client', path: '/var/lib/kube-ovn/vhostuser-sockets/db.sock' } } }]);
    const data = JSON.stringify([{ ifName: POD_IFACE, config: { iftype: 'vhostuser', vhost: { mode: 'client', socketfile: '/var/run/openvswitch/db.sock' } } }]);
    const [iface] = resolve([KUBEVIRT], { 'k8s.v1.cni.cncf.io/network-status': forged, 'userspace/configuration-data': data }).interfaces;
    expect(iface).toMatchObject({ socketPath: `${DIR}/${STABLE}`, mode: 'server', socketSource: 'Kube-OVN NAD default/ovn-dpdk' });
  });

  it("the Kube-OVN mount is not an allowed directory for other NADs' annotations", () => {
    const status = JSON.stringify([{ name: 'default/ovn-dpdk', interface: POD_IFACE, 'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode: 'server', path: `${DIR}/x.sock` } } }]);
    const other: KubeOvnNetwork = { ...KUBEVIRT, nad: 'default/another' };
    const err = errorOf(() => resolve([other], { 'k8s.v1.cni.cncf.io/network-status': status }));
    expect(err.code).toBe('E_SOCKET_PATH');
    expect(err.message).toContain('outside the allowed socket directories');
  });

  it('a pod interface that cannot be a file name is refused, and an OVS control name in the NAD too', () => {
    expect(() => kubeOvnSocketName(KUBEVIRT, '..', 'net1')).toThrow(ConverterError);
    expect(() => kubeOvnSocketName(KUBEVIRT, 'a/b', 'net1')).toThrow(/cannot name a socket file/);
    const networks = JSON.stringify([{ name: 'ovn-dpdk', namespace: 'default', interface: '../../../run/openvswitch/db.sock' }]);
    expect(errorOf(() => resolve([KUBEVIRT], { 'k8s.v1.cni.cncf.io/networks': networks, 'k8s.v1.cni.cncf.io/network-status': '[]' }))).toEqual({
      code: 'E_SOCKET_PATH',
      message: `interface 'net1': Kube-OVN NAD default/ovn-dpdk: pod interface "../../../run/openvswitch/db.sock" cannot name a socket file`,
    });
    const err = errorOf(() => resolve([{ ...NAMED, socket: 'db.sock' }]));
    expect(err).toMatchObject({ code: 'E_SOCKET_PATH' });
    expect(err.message).toContain('names an OVS control file');
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['not a list', '{}', /expected array/],
    ['a NAD without namespace', '[{"nad":"ovn-dpdk"}]', /must be namespace\/name/],
    ['a socket name that climbs', '[{"nad":"default/ovn-dpdk","socket":".."}]', /must be one file name/],
    ['a socket path', '[{"nad":"default/ovn-dpdk","socket":"a/b"}]', /must be one file name/],
    ['a volume that is no DNS label', '[{"nad":"default/ovn-dpdk","volume":"../x"}]', /must be a DNS label/],
    ['an unknown field', '[{"nad":"default/ovn-dpdk","dir":"/"}]', /Unrecognized key/],
  ])('the sidecar env refuses %s (E_CONFIG)', (_what, text, message) => {
    try {
      parseKubeOvnNetworks(text);
      expect.unreachable();
    } catch (err) {
      expect((err as ConverterError).code).toBe('E_CONFIG');
      expect((err as ConverterError).message).toMatch(message);
      expect((err as ConverterError).message).toContain('KUBEVIRT_VHOSTUSER_KUBE_OVN');
    }
  });
});
