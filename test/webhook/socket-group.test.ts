// The socket group for a reduced-privilege OVS, on the webhook's side: our binding sidecar gets
// the group as KUBEVIRT_VHOSTUSER_SOCKET_GROUP and as its runAsGroup; compute and every other
// container keep theirs, and a pod that already has both gets no op.
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parsePod } from '../../webhook/src/admission/review.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { createPlanner, type JsonPatchOp } from '../../webhook/src/mutate/plan.js';
import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import { defaultMutationConfig, loadPod, type Json } from './fixtures.js';

const GID = 2001;
const plan = createPlanner({ volumes: defaultMutationConfig().volumes, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION, sidecarSocketGroup: GID });

type C = { name: string; env?: { name: string; value?: string }[]; securityContext?: Record<string, unknown> };

function planned(pod: Json): readonly JsonPatchOp[] {
  const result = plan(parsePod(pod), 'vms/virt-launcher-vm');
  if (!result.ok) throw result.error;
  return result.ops;
}

function apply(pod: Json, ops: readonly JsonPatchOp[]): Json {
  return fastJsonPatch.applyPatch(structuredClone(pod), structuredClone(ops) as fastJsonPatch.Operation[], true, false).newDocument;
}

const containers = (pod: Json): C[] => (pod['spec'] as { containers: C[] }).containers;
const named = (pod: Json, name: string): C => containers(pod).find((c) => c.name === name) as C;

describe('socket group on our binding sidecar', () => {
  it('sets the env var and replaces KubeVirt\'s runAsGroup 107 on the sidecar only, keeping the rest of its securityContext', () => {
    const pod = loadPod('launcher-v1-binding');
    named(pod, 'hook-sidecar-0').securityContext = { runAsUser: 107, runAsGroup: 107, runAsNonRoot: true, capabilities: { drop: ['ALL'] } };
    const patched = apply(pod, planned(pod));
    const sidecar = named(patched, 'hook-sidecar-0');
    expect(sidecar.env).toContainEqual({ name: 'KUBEVIRT_VHOSTUSER_SOCKET_GROUP', value: String(GID) });
    expect(sidecar.securityContext).toEqual({ runAsUser: 107, runAsGroup: GID, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    // compute (QEMU) keeps its group: the socket group is the sidecar's alone.
    const compute = named(patched, 'compute');
    expect(compute.env?.some((e) => e.name === 'KUBEVIRT_VHOSTUSER_SOCKET_GROUP')).toBe(false);
    expect(compute.securityContext).toEqual(named(pod, 'compute').securityContext);
    expect((patched['spec'] as Json)['securityContext']).toEqual((pod['spec'] as Json)['securityContext']);
    // Idempotent: the patched pod needs nothing more.
    expect(planned(patched)).toEqual([]);
  });

  it('adds a securityContext to a sidecar that has none', () => {
    const pod = loadPod('launcher-v1-binding');
    delete named(pod, 'hook-sidecar-0').securityContext;
    const ops = planned(pod);
    expect(ops).toContainEqual({ op: 'add', path: `/spec/containers/${containers(pod).findIndex((c) => c.name === 'hook-sidecar-0')}/securityContext`, value: { runAsGroup: GID } });
    expect(named(apply(pod, ops), 'hook-sidecar-0').securityContext).toEqual({ runAsGroup: GID });
  });

  it('refuses a sidecar whose env already names the variable with another value (E_ENV_CONFLICT), naming the flag', () => {
    const pod = loadPod('launcher-v1-binding');
    named(pod, 'hook-sidecar-0').env?.push({ name: 'KUBEVIRT_VHOSTUSER_SOCKET_GROUP', value: '0' });
    const result = plan(parsePod(pod), 'vms/virt-launcher-vm');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('E_ENV_CONFLICT');
    expect(result.error.message).toContain('already sets KUBEVIRT_VHOSTUSER_SOCKET_GROUP to "0"');
    expect(result.error.message).toContain('--sidecar-socket-group');
  });

  it('gives nothing to a hook sidecar of another binding', () => {
    const pod = loadPod('launcher-v1-binding');
    const other = named(pod, 'hook-sidecar-0');
    other.env = [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'passt' }];
    const ops = planned(pod);
    expect(ops.some((op) => op.path.includes('securityContext') || JSON.stringify(op.value).includes('SOCKET_GROUP'))).toBe(false);
  });
});

describe('--sidecar-socket-group', () => {
  it('takes a numeric group ID, off by default', () => {
    expect(parseWebhookArgs(['--dev-cert', '--sidecar-socket-group', '2001']).sidecarSocketGroup).toBe(2001);
    expect(parseWebhookArgs(['--dev-cert']).sidecarSocketGroup).toBeUndefined();
  });

  it.each([
    ['0', 'is the root group'],
    ['hugetlbfs', 'is not a numeric group ID'],
    ['4294967295', 'is above 4294967294'],
  ])('refuses %j, naming the flag', (value, problem) => {
    expect(() => parseWebhookArgs(['--dev-cert', '--sidecar-socket-group', value])).toThrow(new RegExp(`--sidecar-socket-group: "${value}" ${problem}`));
  });
});
