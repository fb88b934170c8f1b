// DRA networks (KubeVirt v1.9.0 NetworkDevicesWithDRA): the launcher pod KubeVirt v1.9.0 renders
// for the official plugin's README VM (fixtures/dra/vmi-binding-plugin-readme.yaml), built from the
// transcribed v1.9.0 pod (fixtures/releases/v1.9.0/launcher-pod.yaml) with what template.go adds for
// a DRA network: spec.resourceClaims (drautil.ToPodResourceClaims), compute resources.claims
// (renderresources.go WithNetworksDRA) and no Multus networks annotation (VEP 183 Limitations).
// Our sidecar must request the same claim to see its KEP-5304 metadata; nothing else.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { Decision } from '../../webhook/src/admission/decide.js';
import type { KubeObject } from '../../webhook/src/k8s/sources.js';
import { planSidecarClaims, vmiDraNetworks } from '../../webhook/src/mutate/claims.js';
import { parsePod } from '../../webhook/src/admission/review.js';
import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import { validatePod } from '../helpers/pod-schema.js';
import { decideLauncherPod, type Json } from './fixtures.js';

const ROOT = join(import.meta.dirname, '../..');
type Container = { name: string; resources?: { claims?: { name: string; request?: string }[] }; volumeMounts?: unknown[] };
type PodJson = Json & { metadata: { annotations: Record<string, string> }; spec: { containers: Container[]; volumes: { name: string }[]; resourceClaims?: unknown[] } };

const CLAIM = { name: 'my-dpdk-claim', request: 'vhost-port' };
const GPU = { name: 'gpu', request: 'gpu' };

function readmeVmi(extra: Record<string, unknown> = {}): KubeObject {
  const vm = parseAllDocuments(readFileSync(join(ROOT, 'fixtures/dra/vmi-binding-plugin-readme.yaml'), 'utf8'))[0]?.toJS() as {
    spec: { template: { spec: Record<string, unknown> } };
  };
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'vm-dpdk', namespace: 'vnf', uid: '7c3e8a57-4a8b-4f4e-9a0e-1d2c3b4a5f60' },
    spec: { ...vm.spec.template.spec, ...extra },
  } as KubeObject;
}

/** The v1.9.0 launcher pod for a DRA VMI: its claims in the pod and in compute, no Multus annotation. */
function draLauncherPod(claims: { name: string; request: string }[] = [CLAIM]): PodJson {
  const pod = parse(readFileSync(join(ROOT, 'fixtures/releases/v1.9.0/launcher-pod.yaml'), 'utf8')) as PodJson;
  delete pod.metadata.annotations['k8s.v1.cni.cncf.io/networks'];
  pod.spec.resourceClaims = claims.map((c) => ({ name: c.name, resourceClaimTemplateName: `${c.name}-template` }));
  const compute = pod.spec.containers.find((c) => c.name === 'compute') as Container;
  compute.resources = { claims: claims.map((c) => ({ ...c })) };
  return pod;
}

function decide(pod: PodJson, vmi: KubeObject | undefined): Promise<{ decision: Decision; calls: string[] }> {
  return decideLauncherPod(pod, { vmis: vmi === undefined ? [] : [vmi] });
}

function patched(pod: PodJson, decision: Decision): PodJson {
  if (decision.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(decision)}`);
  return fastJsonPatch.applyPatch(structuredClone(pod), decision.ops as Operation[], true, false).newDocument;
}

const container = (pod: PodJson, name: string): Container => pod.spec.containers.find((c) => c.name === name) as Container;

describe('DRA networks: our sidecar requests the claim whose device metadata it reads', () => {
  it('a DRA-only pod gets the claim on hook-sidecar-0 and nothing else: no volumes, no OVS run directory', async () => {
    const pod = draLauncherPod();
    const { decision } = await decide(pod, readmeVmi());
    const after = patched(pod, decision);
    expect(container(after, 'hook-sidecar-0').resources?.claims).toEqual([CLAIM]);
    expect(after.spec.volumes).toEqual(pod.spec.volumes);
    expect(container(after, 'compute')).toEqual(container(pod, 'compute'));
    expect(decision.kind === 'patch' && decision.added).toEqual({ volumes: [], containers: ['hook-sidecar-0'] });
    expect(decision.kind === 'patch' && decision.evidence).toContain('DRA claim my-dpdk-claim/vhost-port');
    // No volume, but the pod was mutated: the record says with what.
    expect(JSON.parse(after.metadata.annotations['kubevirt-vhostuser.io/mutation'] ?? '{}')).toEqual({ webhook: WEBHOOK_VERSION, volumes: [], claims: ['my-dpdk-claim/vhost-port'] });
    // The sidecar's existing limits and requests stay; the result is a valid pod.
    expect(container(after, 'hook-sidecar-0').resources).toMatchObject({ limits: { cpu: '200m' } });
    validatePod(after);
  });

  it('is idempotent: the patched pod (a reinvocation) needs nothing more', async () => {
    const pod = draLauncherPod();
    const after = patched(pod, (await decide(pod, readmeVmi())).decision);
    expect((await decide(after, readmeVmi())).decision).toEqual({ kind: 'allow', reason: 'already-mutated' });
  });

  it('adds nothing where KubeVirt already gives the sidecar the claim (kubevirt/kubevirt#18741, after v1.9.0)', async () => {
    const pod = draLauncherPod();
    container(pod, 'hook-sidecar-0').resources = { claims: [{ ...CLAIM }] };
    expect((await decide(pod, readmeVmi())).decision).toEqual({ kind: 'allow', reason: 'already-mutated' });
  });

  it('never grants a claim of another device (a GPU claim of the same pod), nor one compute does not request', async () => {
    const pod = draLauncherPod([CLAIM, GPU]);
    const vmi = readmeVmi({ resourceClaims: [{ name: 'my-dpdk-claim', resourceClaimTemplateName: 'dpdk-port' }, { name: 'gpu', resourceClaimTemplateName: 'gpu' }] });
    const after = patched(pod, (await decide(pod, vmi)).decision);
    expect(container(after, 'hook-sidecar-0').resources?.claims).toEqual([CLAIM]);
    // A VMI whose network names a claim compute does not request gets nothing for it.
    const ops = planSidecarClaims(parsePod(draLauncherPod([GPU])), [CLAIM], { bindingNames: ['vhostuser'], sidecarImages: [] });
    expect(ops).toEqual([]);
  });

  it("a VMI owner's sidecar that names another binding gets no claim", async () => {
    const pod = draLauncherPod();
    const env = (container(pod, 'hook-sidecar-0') as unknown as { env: { name: string; value?: string }[] }).env;
    (env.find((e) => e.name === 'NETWORK_BINDING_PLUGIN_NAME') as { value: string }).value = 'other';
    const { decision } = await decide(pod, readmeVmi());
    expect(decision.kind === 'patch' ? decision.ops.filter((op) => op.path.includes('/claims')) : []).toEqual([]);
  });

  it('a pod with claims but a Multus vhost-user network too gets the volumes as usual and the claim', async () => {
    const pod = draLauncherPod();
    pod.metadata.annotations['k8s.v1.cni.cncf.io/networks'] = '[{"name":"ovs-dpdk-net","namespace":"vnf","interface":"pod2bf2e541259"}]';
    const vmi = readmeVmi({
      networks: [
        { name: 'dpdknet', resourceClaim: { claimName: 'my-dpdk-claim', requestName: 'vhost-port' } },
        { name: 'dpdk-net', multus: { networkName: 'ovs-dpdk-net' } },
      ],
      domain: { devices: { interfaces: [{ name: 'dpdknet', binding: { name: 'vhostuser' } }, { name: 'dpdk-net', binding: { name: 'vhostuser' } }] } },
    });
    const { decision } = await decide(pod, vmi);
    const after = patched(pod, decision);
    expect(after.spec.volumes.map((v) => v.name)).toEqual(expect.arrayContaining(['shared-dir', 'ovs-run-dir', 'podinfo']));
    expect(container(after, 'hook-sidecar-0').resources?.claims).toEqual([CLAIM]);
  });

  it('claims of no vhost-user network (a GPU VMI) leave the usual decision', async () => {
    const pod = draLauncherPod([GPU]);
    const vmi = readmeVmi({ networks: [{ name: 'default', pod: {} }], domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } } });
    const { decision } = await decide(pod, vmi);
    // Our sidecar is in the pod (it serves the binding), so the volumes follow as before; no claim.
    expect(decision.kind === 'patch' ? decision.ops.filter((op) => op.path.includes('/claims')) : []).toEqual([]);
  });

  it('vmiDraNetworks reads only vhost-user interfaces on resourceClaim networks', () => {
    expect(vmiDraNetworks(readmeVmi(), ['vhostuser'])).toEqual({ claims: [CLAIM], draOnly: true });
    expect(vmiDraNetworks(readmeVmi(), ['other'])).toEqual({ claims: [], draOnly: false });
    const hostile = readmeVmi({ networks: [{ name: 'dpdknet', multus: { networkName: 'x' }, resourceClaim: { claimName: 'gpu', requestName: 'gpu' } }] });
    expect(vmiDraNetworks(hostile, ['vhostuser']).claims).toEqual([]);
  });
});
