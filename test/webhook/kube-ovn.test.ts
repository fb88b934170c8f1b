// Kube-OVN vhost-user networks with --kube-ovn: the v1.9.0 launcher pod (fixtures/releases) of the
// Kube-OVN fork's VM (fixtures/vmi/kubeovn-kubevirt-dpdk_vm-dpdk.yaml, here bound to our binding)
// on Kube-OVN's own NADs (fixtures/kube-ovn): the emptyDir Kube-OVN requires, the networks for our
// sidecar, and the shared dir only where the userspace CNI needs it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseKubeOvnNetworks } from '../../converter/src/kube-ovn.js';
import type { Decision } from '../../webhook/src/admission/decide.js';
import { kubeOvnNetworkOf } from '../../webhook/src/admission/kube-ovn.js';
import { WebhookError } from '../../webhook/src/errors.js';
import type { KubeObject } from '../../webhook/src/k8s/sources.js';
import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import { validatePod } from '../helpers/pod-schema.js';
import { decideLauncherPod, type Json } from './fixtures.js';

const ROOT = join(import.meta.dirname, '../..');
type Container = { name: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] };
type PodJson = Json & { metadata: { annotations: Record<string, string> }; spec: { containers: Container[]; volumes: Record<string, unknown>[] } };

const nadFixture = (file: string, namespace = 'vnf', name = 'ovn-dpdk'): KubeObject => {
  const doc = parseAllDocuments(readFileSync(join(ROOT, 'fixtures/kube-ovn', file), 'utf8'))[0]?.toJS() as KubeObject;
  return { ...doc, metadata: { ...doc.metadata, namespace, name } };
};
const KUBEVIRT_NAD = nadFixture('nad-kubevirt-consumption.yaml');
const NAMED_NAD = nadFixture('nad-socket-name.yaml');
const USERSPACE_NAD: KubeObject = {
  metadata: { namespace: 'vnf', name: 'userspace-ovs' },
  spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'userspace', name: 'userspace-ovs', host: { engine: 'ovs-dpdk', iftype: 'vhostuser', netType: 'bridge', vhost: { mode: 'client' }, bridge: { bridgeName: 'br0' } }, container: { engine: 'ovs-dpdk', iftype: 'vhostuser', netType: 'interface', vhost: { mode: 'server' } } }) },
};

/** The Kube-OVN fork's VM as a VMI of our binding, in the v1.9.0 fixture pod's namespace and uid. */
function vmi(networks: { name: string; nad: string }[] = [{ name: 'net1', nad: 'ovn-dpdk' }]): KubeObject {
  const vm = parseAllDocuments(readFileSync(join(ROOT, 'fixtures/vmi/kubeovn-kubevirt-dpdk_vm-dpdk.yaml'), 'utf8'))[0]?.toJS() as { spec: { template: { spec: Record<string, unknown> } } };
  const spec = structuredClone(vm.spec.template.spec) as { domain: { devices: { interfaces: unknown[] } }; networks: unknown[] };
  spec.domain.devices.interfaces = networks.map((n) => ({ name: n.name, binding: { name: 'vhostuser' } }));
  spec.networks = networks.map((n) => ({ name: n.name, multus: { networkName: n.nad } }));
  return { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vm-dpdk', namespace: 'vnf', uid: '7c3e8a57-4a8b-4f4e-9a0e-1d2c3b4a5f60' }, spec } as KubeObject;
}

const launcherPod = (): PodJson => parse(readFileSync(join(ROOT, 'fixtures/releases/v1.9.0/launcher-pod.yaml'), 'utf8')) as PodJson;

function decide(pod: PodJson, vmiObject: KubeObject, nads: KubeObject[], flags: string[] = ['--kube-ovn']): Promise<{ decision: Decision; calls: string[] }> {
  return decideLauncherPod(pod, { vmis: [vmiObject], nads }, flags);
}

function patched(pod: PodJson, decision: Decision): PodJson {
  if (decision.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(decision)}`);
  return fastJsonPatch.applyPatch(structuredClone(pod), decision.ops as Operation[], true, false).newDocument;
}
const container = (pod: PodJson, name: string): Container => pod.spec.containers.find((c) => c.name === name) as Container;
const added = (before: PodJson, after: PodJson): unknown[] => after.spec.volumes.slice(before.spec.volumes.length);
const envOf = (pod: PodJson, name: string): string | undefined => container(pod, 'hook-sidecar-0').env?.find((e) => e.name === name)?.value;

describe('--kube-ovn: Kube-OVN vhost-user NADs', () => {
  it("kubevirt consumption (kubevirt-dpdk's NAD): the vhostuser-sockets emptyDir in compute and our sidecar, the networks for the sidecar, podinfo, no shared dir and no OVS run directory", async () => {
    const pod = launcherPod();
    const { decision } = await decide(pod, vmi(), [KUBEVIRT_NAD]);
    const after = patched(pod, decision);
    expect(added(pod, after)).toEqual([expect.objectContaining({ name: 'podinfo' }), { name: 'vhostuser-sockets', emptyDir: {} }]);
    for (const c of ['compute', 'hook-sidecar-0']) expect(container(after, c).volumeMounts).toContainEqual({ name: 'vhostuser-sockets', mountPath: '/var/lib/kube-ovn/vhostuser-sockets/' });
    const env = envOf(after, 'KUBEVIRT_VHOSTUSER_KUBE_OVN');
    // Exactly what the sidecar parses at start.
    expect(parseKubeOvnNetworks(env ?? '')).toEqual([{ nad: 'vnf/ovn-dpdk', volume: 'vhostuser-sockets', provider: 'ovn-dpdk.default.ovn' }]);
    expect(decision.kind === 'patch' && decision.evidence).toContain('Kube-OVN NAD vnf/ovn-dpdk');
    // The record on the pod names every volume the patch added, Kube-OVN's too, once.
    expect(JSON.parse(after.metadata.annotations['kubevirt-vhostuser.io/mutation'] ?? '{}')).toEqual({ webhook: WEBHOOK_VERSION, volumes: ['podinfo', 'vhostuser-sockets'] });
    validatePod(after);
    // Idempotent: a reinvocation on the result adds nothing.
    expect((await decide(after, vmi(), [KUBEVIRT_NAD])).decision).toEqual({ kind: 'allow', reason: 'already-mutated' });
  });

  it("a named socket (Kube-OVN's docs NAD) carries its name to the sidecar", async () => {
    const pod = launcherPod();
    const after = patched(pod, (await decide(pod, vmi(), [NAMED_NAD])).decision);
    expect(parseKubeOvnNetworks(envOf(after, 'KUBEVIRT_VHOSTUSER_KUBE_OVN') ?? '')).toEqual([{ nad: 'vnf/ovn-dpdk', volume: 'vhostuser-sockets', socket: 'sock', provider: 'ovn-dpdk.default.ovn' }]);
  });

  it('a userspace network beside it brings the shared dir and the OVS run directory back', async () => {
    const pod = launcherPod();
    const vm = vmi([{ name: 'net1', nad: 'ovn-dpdk' }, { name: 'net2', nad: 'userspace-ovs' }]);
    const after = patched(pod, (await decide(pod, vm, [KUBEVIRT_NAD, USERSPACE_NAD])).decision);
    expect(after.spec.volumes.map((v) => v['name'])).toEqual(expect.arrayContaining(['shared-dir', 'ovs-run-dir', 'podinfo', 'vhostuser-sockets']));
    // Both env entries survive: the planner's and Kube-OVN's share one env array.
    expect(envOf(after, 'KUBEVIRT_VHOSTUSER_KUBE_OVN')).toBeDefined();
    validatePod(after);
  });

  it('a NAD that is not found counts as needing the shared dir, as before', async () => {
    const pod = launcherPod();
    const after = patched(pod, (await decide(pod, vmi(), [])).decision);
    expect(after.spec.volumes.map((v) => v['name'])).toEqual(expect.arrayContaining(['shared-dir', 'ovs-run-dir', 'podinfo']));
    expect(envOf(after, 'KUBEVIRT_VHOSTUSER_KUBE_OVN')).toBeUndefined();
  });

  it('without --kube-ovn no NAD is read for our binding and the patch is as before', async () => {
    const pod = launcherPod();
    const { decision, calls } = await decide(pod, vmi(), [KUBEVIRT_NAD], []);
    expect(calls).toEqual([]);
    const after = patched(pod, decision);
    expect(after.spec.volumes.map((v) => v['name'])).not.toContain('vhostuser-sockets');
  });

  it('a volume of that name that is not an emptyDir is a conflict (Kube-OVN refuses it at CNI ADD)', async () => {
    const pod = launcherPod();
    pod.spec.volumes.push({ name: 'vhostuser-sockets', hostPath: { path: '/run/openvswitch' } });
    const { decision } = await decide(pod, vmi(), [KUBEVIRT_NAD]);
    expect(decision.kind === 'deny' && decision.error.code).toBe('E_VOLUME_CONFLICT');
  });

  it('a sidecar that already says other networks is a conflict, not overwritten', async () => {
    const pod = launcherPod();
    container(pod, 'hook-sidecar-0').env?.push({ name: 'KUBEVIRT_VHOSTUSER_KUBE_OVN', value: '[{"nad":"vnf/other"}]' });
    const { decision } = await decide(pod, vmi(), [KUBEVIRT_NAD]);
    expect(decision.kind === 'deny' && decision.error.code).toBe('E_ENV_CONFLICT');
  });

  it.each([
    ['a volume name that is no DNS label', { vhost_user_socket_volume_name: '../x', vhost_user_socket_name: 'sock' }, /volume: must be a DNS label/],
    ['a socket name that climbs', { vhost_user_socket_volume_name: 'v', vhost_user_socket_name: '..' }, /socket: must be one file name/],
    ['a volume without a socket name', { vhost_user_socket_volume_name: 'v' }, /no vhost_user_socket_name/],
  ])('denies a Kube-OVN NAD with %s (E_NAD_UNSUPPORTED)', async (_what, fields, message) => {
    const nad: KubeObject = { metadata: { namespace: 'vnf', name: 'ovn-dpdk' }, spec: { config: JSON.stringify({ type: 'kube-ovn', provider: 'p.vnf.ovn', ...fields }) } };
    const result = kubeOvnNetworkOf(nad, 'vnf/ovn-dpdk');
    expect(result).toBeInstanceOf(WebhookError);
    expect((result as WebhookError).message).toMatch(message);
    const { decision } = await decide(launcherPod(), vmi(), [nad]);
    expect(decision.kind === 'deny' && decision.error.code).toBe('E_NAD_UNSUPPORTED');
  });

  it('a kube-ovn NAD without vhost-user fields (a kernel NIC), or in a plugins list, is read as Kube-OVN says', () => {
    expect(kubeOvnNetworkOf({ spec: { config: '{"type":"kube-ovn","provider":"a.b.ovn"}' } }, 'b/a')).toBeUndefined();
    const listed = { spec: { config: JSON.stringify({ cniVersion: '0.3.1', plugins: [{ type: 'kube-ovn', vhost_user_socket_consumption: 'kubevirt' }, { type: 'portmap' }] }) } };
    expect(kubeOvnNetworkOf(listed, 'b/a')).toEqual({ nad: 'b/a', volume: 'vhostuser-sockets' });
    // kubevirt consumption forces the volume name, whatever the NAD says (handler.go).
    const forced = { spec: { config: JSON.stringify({ type: 'kube-ovn', vhost_user_socket_consumption: 'kubevirt', vhost_user_socket_volume_name: 'other', vhost_user_socket_name: 'x' }) } };
    expect(kubeOvnNetworkOf(forced, 'b/a')).toEqual({ nad: 'b/a', volume: 'vhostuser-sockets' });
  });
});
