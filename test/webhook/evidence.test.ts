import { describe, expect, it } from 'vitest';
import {
  bindingSidecarEvidence,
  findVhostUserEvidence,
  isVhostUserNad,
  parseMultusNetworks,
  vhostUserInterfaceName,
} from '../../webhook/src/admission/evidence.js';
import { classifyLauncher, vmiControllerRef } from '../../webhook/src/admission/launcher.js';
import { parsePod, type OwnerReference } from '../../webhook/src/admission/review.js';
import { offlineLookups, withDeadline } from '../../webhook/src/k8s/sources.js';
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

describe('parseMultusNetworks', () => {
  it.each([
    ['JSON list', '[{"interface":"net1","name":"userspace-ovs-net-1","namespace":"default"}]', ['default/userspace-ovs-net-1']],
    ['JSON list without namespace', '[{"name":"a"},{"name":"b","namespace":"x"}]', ['pods/a', 'x/b']],
    ['comma form', 'ns1/a@net1, b , ns2/c', ['ns1/a', 'pods/b', 'ns2/c']],
    ['duplicates', 'a,a,pods/a', ['pods/a']],
    ['broken JSON', '[{"name":', []],
    ['a JSON object', '{"name":"a"}', []],
    ['empty entries', ' , ,', []],
  ])('%s', (_what, value, want) => {
    expect(parseMultusNetworks(value, 'pods').map((r) => `${r.namespace}/${r.name}`)).toEqual(want);
  });
});

describe('evidence checks', () => {
  it('finds the vhostuser binding sidecar, not the passt one', () => {
    expect(bindingSidecarEvidence(pod('several-containers'), ['vhostuser'])).toBe('container "hook-sidecar-0" serves binding "vhostuser"');
    expect(bindingSidecarEvidence(pod('several-containers'), ['other'])).toBeUndefined();
  });

  it('reads both VMI dialects', () => {
    expect(vhostUserInterfaceName(loadApiObject('vmi-vm-trex-1'), ['vhostuser'])).toBe('vhost-user-net-1');
    expect(vhostUserInterfaceName(loadApiObject('vmi-vhostuser-vm'), ['vhostuser'])).toBe('net1');
    expect(vhostUserInterfaceName(loadApiObject('vmi-vhostuser-vm'), ['dpdk'])).toBeUndefined();
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
    expect(await findVhostUserEvidence(p, 'tests', vmiControllerRef(p) as OwnerReference, ctx(lookups))).toMatch(/hook-sidecar-0/);
    expect(lookups.calls).toEqual([]);
  });

  it('reads the VMI, and ignores one whose uid is not the owner uid', async () => {
    const vmi = loadApiObject('vmi-vm-trex-1');
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(fakeLookups({ vmis: [vmi] })))).toBe(
      'VirtualMachineInstance default/vm-trex-1 interface "vhost-user-net-1" is vhost-user',
    );
    const stale = { ...vmi, metadata: { ...vmi.metadata, uid: 'another' } };
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(fakeLookups({ vmis: [stale] })))).toBeUndefined();
  });

  it('falls back to the NADs, and answers undefined when none is vhost-user', async () => {
    const nad = loadApiObject('nad-userspace-ovs-net-1');
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(fakeLookups({ nads: [nad] })))).toMatch(/userspace-ovs-net-1 is a userspace vhostuser network/);
    expect(await findVhostUserEvidence(v053, 'default', owner, ctx(fakeLookups({ nads: [loadApiObject('nad-macvlan')] })))).toBeUndefined();
  });

  it('offline, only the pod counts', async () => {
    expect(await findVhostUserEvidence(v053, 'default', owner, { ...ctx(), lookups: offlineLookups() })).toBeUndefined();
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
