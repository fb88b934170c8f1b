import { describe, expect, it } from 'vitest';
import {
  bindingSidecarEvidence,
  candidateNads,
  findVhostUserEvidence,
  interfaceShape,
  isVhostUserNad,
  vhostUserInterfaceName,
} from '../../webhook/src/admission/evidence.js';
import { classifyLauncher, vmiControllerRef } from '../../webhook/src/admission/launcher.js';
import { parsePod, type OwnerReference } from '../../webhook/src/admission/review.js';
import { offlineLookups, withDeadline, type KubeObject } from '../../webhook/src/k8s/sources.js';
import { KUBEVIRT_CONTROLLER, fakeLookups, loadApiObject, loadPod } from './fixtures.js';

const ids = [KUBEVIRT_CONTROLLER];
const pod = (name: string) => parsePod(loadPod(name));

describe('classifyLauncher', () => {
  it.each([
    ['launcher-v1-binding', KUBEVIRT_CONTROLLER, 'genuine'],
    ['launcher-v1alpha3-owner', KUBEVIRT_CONTROLLER, 'genuine'],
    ['launcher-v1-binding', 'system:serviceaccount:tests:default', 'forged'],
    ['launcher-v1-binding', undefined, 'forged'],
    ['forged-owner', KUBEVIRT_CONTROLLER, 'forged'],
    ['non-launcher', KUBEVIRT_CONTROLLER, 'not-launcher'],
  ] as const)('%s created by %s is %s', (name, user, kind) => {
    expect(classifyLauncher(pod(name), user, ids).kind).toBe(kind);
  });

  it.each([
    ['a non-controller VMI reference', { controller: false }],
    ['a controller reference to another kind', { kind: 'ReplicaSet', apiVersion: 'apps/v1' }],
    ['a VMI of another API group', { apiVersion: 'evil.example.com/v1' }],
  ])('does not count %s as the owner', (_what, change) => {
    const p = loadPod('launcher-v1-binding') as { metadata: { ownerReferences: Record<string, unknown>[] } };
    Object.assign(p.metadata.ownerReferences[0] ?? {}, change);
    expect(vmiControllerRef(parsePod(p))).toBeUndefined();
    expect(classifyLauncher(parsePod(p), KUBEVIRT_CONTROLLER, ids)).toMatchObject({ kind: 'forged', reason: 'owner' });
  });
});

/** A VMI with one Multus network per interface, named after it. */
function vmiWith(interfaces: Record<string, unknown>[], networkName = (name: string) => `nad-${name}`): KubeObject {
  return {
    kind: 'VirtualMachineInstance',
    metadata: { name: 'vm', namespace: 'pods', uid: 'u' },
    spec: {
      domain: { devices: { interfaces } },
      networks: interfaces.map((i) => ({ name: i['name'], multus: { networkName: networkName(String(i['name'])) } })),
    },
  };
}

describe('interfaceShape', () => {
  it.each([
    [{ name: 'a', vhostuser: {} }, 'vhostuser'],
    [{ name: 'a', binding: { name: 'vhostuser' } }, 'vhostuser'],
    [{ name: 'a', binding: { name: 'passt' } }, 'other'],
    ...['bridge', 'masquerade', 'sriov', 'slirp', 'macvtap', 'passt'].map((b) => [{ name: 'a', [b]: {} }, 'other'] as const),
    [{ name: 'a' }, 'unrecognised'],
    [{ name: 'a', dpdk: {} }, 'unrecognised'],
    [{ name: 'a', bridge: null }, 'unrecognised'],
    ['not an object', 'other'],
  ] as const)('%j is %s', (iface, shape) => {
    expect(interfaceShape(iface, ['vhostuser'])).toBe(shape);
  });
});

describe('candidateNads', () => {
  const refs = (vmi: KubeObject) => candidateNads(vmi, 'pods', ['vhostuser']).map((r) => `${r.namespace}/${r.name}`);

  it('takes only networks whose interface binding is not recognised, in the VMI namespace unless spelled out', () => {
    const vmi = vmiWith(
      [{ name: 'plain' }, { name: 'fork', dpdk: {} }, { name: 'br', bridge: {} }, { name: 'ours', binding: { name: 'vhostuser' } }, { name: 'theirs', binding: { name: 'passt' } }, { name: 'sr', sriov: {} }],
      (n) => (n === 'fork' ? 'other-ns/fork-net' : `nad-${n}`),
    );
    expect(refs(vmi)).toEqual(['pods/nad-plain', 'other-ns/fork-net']);
  });

  it('leaves out interfaces being unplugged, networks without an interface, and duplicates', () => {
    const vmi = vmiWith([{ name: 'a' }, { name: 'b', state: 'absent' }, { name: 'c' }], (n) => (n === 'c' ? 'pods/nad-a' : `nad-${n}`));
    const spec = vmi['spec'] as { networks: unknown[] };
    spec.networks.push({ name: 'no-interface', multus: { networkName: 'nad-x' } }, { name: 'pod', pod: {} });
    expect(refs(vmi)).toEqual(['pods/nad-a']);
  });

  it('leaves out names no NetworkAttachmentDefinition can have', () => {
    const bad = ['Upper', 'a/b/c', '-lead', 'x'.repeat(254), '/name', 'ns/', 'ns_x/name', ''];
    const vmi = vmiWith(bad.map((_, i) => ({ name: `i${i}` })), (n) => bad[Number(n.slice(1))] ?? '');
    expect(refs(vmi)).toEqual([]);
  });

  it('reads nothing from a VMI without networks or interfaces', () => {
    expect(refs({ spec: {} })).toEqual([]);
    expect(refs({ spec: { networks: 'x', domain: { devices: { interfaces: {} } } } })).toEqual([]);
  });
});

describe('evidence checks', () => {
  it('finds the vhostuser binding sidecar, not the passt one', () => {
    expect(bindingSidecarEvidence(pod('several-containers'), { bindingNames: ['vhostuser'], sidecarImages: [] })).toBe('container "hook-sidecar-0" serves binding "vhostuser"');
    expect(bindingSidecarEvidence(pod('several-containers'), { bindingNames: ['other'], sidecarImages: [] })).toBeUndefined();
  });

  it('reads both VMI dialects', () => {
    expect(vhostUserInterfaceName(loadApiObject('vmi-vm-trex-1'), ['vhostuser'])).toBe('vhost-user-net-1');
    expect(vhostUserInterfaceName(loadApiObject('vmi-vhostuser-vm'), ['vhostuser'])).toBe('net1');
    expect(vhostUserInterfaceName(loadApiObject('vmi-vhostuser-vm'), ['dpdk'])).toBeUndefined();
  });

  it('does not count a vhost-user interface that is being unplugged', () => {
    expect(vhostUserInterfaceName(vmiWith([{ name: 'a', vhostuser: {}, state: 'absent' }]), ['vhostuser'])).toBeUndefined();
  });

  it('recognises userspace vhostuser NADs, alone or in a plugins list', () => {
    expect(isVhostUserNad(loadApiObject('nad-userspace-ovs-net-1'))).toBe(true);
    expect(isVhostUserNad(loadApiObject('nad-vhostuser-network'))).toBe(true);
    expect(isVhostUserNad(loadApiObject('nad-macvlan'))).toBe(false);
    expect(isVhostUserNad({ spec: { config: '{not json' } })).toBe(false);
    expect(isVhostUserNad({ spec: { config: '{"type":"userspace","host":{"iftype":"memif"}}' } })).toBe(false);
  });
});

describe('findVhostUserEvidence', () => {
  const v053 = pod('launcher-v0.53-vhostuser');
  const owner = vmiControllerRef(v053) as OwnerReference;
  const ctx = (lookups = fakeLookups()) => ({ bindingNames: ['vhostuser'], lookups, lookupTimeoutMs: 100 });

  it('needs no lookup when a binding sidecar is there', async () => {
    const lookups = fakeLookups();
    const p = pod('launcher-v1-binding');
    expect((await findVhostUserEvidence(p, 'tests', vmiControllerRef(p) as OwnerReference, ctx(lookups))).evidence).toMatch(/hook-sidecar-0/);
    expect(lookups.calls).toEqual([]);
  });

  it('reads the VMI, and ignores one whose uid is not the owner uid', async () => {
    const vmi = loadApiObject('vmi-vm-trex-1');
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(fakeLookups({ vmis: [vmi] })))).toEqual({
      evidence: 'VirtualMachineInstance default/vm-trex-1 interface "vhost-user-net-1" is vhost-user',
    });
    const stale = { ...vmi, metadata: { ...vmi.metadata, uid: 'another' } };
    const lookups = fakeLookups({ vmis: [stale], nads: [loadApiObject('nad-userspace-ovs-net-1')] });
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(lookups))).toEqual({ evidence: undefined });
    // No VMI: nothing says which NADs matter, so none is read.
    expect(lookups.calls).toEqual(['vmi default/vm-trex-1']);
  });

  it('reads the NAD of an interface whose binding it does not recognise, and answers no evidence when it is not vhost-user', async () => {
    const trex = loadApiObject('vmi-vm-trex-1') as KubeObject & { spec: { domain: { devices: { interfaces: Record<string, unknown>[] } } } };
    const unrecognised = structuredClone(trex);
    unrecognised.spec.domain.devices.interfaces[1] = { name: 'vhost-user-net-1', dpdkvhostuser: {} };
    const nad = loadApiObject('nad-userspace-ovs-net-1');
    const lookups = fakeLookups({ vmis: [unrecognised], nads: [nad] });
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(lookups))).toEqual({
      evidence: 'NetworkAttachmentDefinition default/userspace-ovs-net-1 is a userspace vhostuser network',
    });
    expect(lookups.calls).toEqual(['vmi default/vm-trex-1', 'nad default/userspace-ovs-net-1']);
    const macvlan = { ...loadApiObject('nad-macvlan'), metadata: { name: 'userspace-ovs-net-1', namespace: 'default' } };
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(fakeLookups({ vmis: [unrecognised], nads: [macvlan] })))).toEqual({ evidence: undefined });
  });

  it('reads at most maxNadLookups NADs and says how many it left unread', async () => {
    const many = vmiWith(Array.from({ length: 40 }, (_, i) => ({ name: `n${i}` })));
    const vmi = { ...many, metadata: { name: 'vm-trex-1', namespace: 'default', uid: owner.uid } };
    const lookups = fakeLookups({ vmis: [vmi] });
    const result = await findVhostUserEvidence(v053, 'default', owner, { ...ctx(lookups), maxNadLookups: 16 });
    expect(lookups.calls.filter((c) => c.startsWith('nad '))).toHaveLength(16);
    expect(result).toEqual({
      evidence: undefined,
      nadsUnread: 24,
      warning:
        'kubevirt-vhostuser: VirtualMachineInstance default/vm-trex-1 names 40 NetworkAttachmentDefinitions; read the first 16 (--max-nad-lookups) and left 24 unread, from default/nad-n16 on; no vhost-user volumes added',
    });
  });

  it('offline, only the pod counts', async () => {
    expect(await findVhostUserEvidence(v053, 'default', owner, { ...ctx(), lookups: offlineLookups() })).toEqual({ evidence: undefined });
  });
});

describe('withDeadline', () => {
  it('resolves in time, times out with E_LOOKUP_TIMEOUT, wraps failures as E_LOOKUP_FAILED', async () => {
    expect(await withDeadline(Promise.resolve(1), AbortSignal.timeout(1000), 'x', 1000)).toBe(1);
    await expect(withDeadline(new Promise(() => {}), AbortSignal.timeout(10), 'VMI a/b', 10)).rejects.toMatchObject({
      code: 'E_LOOKUP_TIMEOUT',
      message: 'VMI a/b: no answer within 10 ms (--lookup-timeout-ms)',
    });
    await expect(withDeadline(Promise.reject(new Error('503')), AbortSignal.timeout(1000), 'NAD a/b', 1000)).rejects.toMatchObject({
      code: 'E_LOOKUP_FAILED',
      message: 'NAD a/b: 503',
    });
  });
});
