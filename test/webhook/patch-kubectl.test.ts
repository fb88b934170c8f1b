// Every patch the webhook returns for the review fixtures, applied for real: fast-json-patch in
// validating mode and `kubectl patch --local` (no API server can run here; kubectl's JSON Patch
// code is the library family the API server applies webhook patches with). The result must be a
// schema-valid Pod, and the webhook run on it must return no patch.
import fastJsonPatch from 'fast-json-patch';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { createMetrics } from '../../webhook/src/metrics.js';
import { kubectlPatchLocal, requireKubectl } from '../helpers/kubectl.js';
import { validatePod } from '../helpers/pod-schema.js';
import { REVIEW_CASES, fixtureLookups, loadReview, type Json } from './fixtures.js';

// The default flags, and the ones that add more to the patch: the sidecar's env vars (an env
// array may be appended to), its runAsGroup, and the writable OVS mount.
const CONFIGS: Record<string, string[]> = {
  default: [],
  'sidecar socket dirs, writable OVS dir': ['--sidecar-socket-dir', '/run/vhost', '--sidecar-socket-dir', '/run/dpdk/', '--ovs-run-dir-writable'],
  // Replaces the sidecar's runAsGroup (an `add` onto a member that is there).
  'socket group': ['--sidecar-socket-group', '2001'],
};
const apps = Object.fromEntries(
  Object.entries(CONFIGS).map(([name, flags]) => [
    name,
    buildApp(parseWebhookArgs(['--dev-cert', '--log-level', 'silent', ...flags]), { lookups: fixtureLookups(), metrics: createMetrics() }),
  ]),
);

async function admit(review: Json, config = 'default'): Promise<Json> {
  const app = apps[config];
  if (app === undefined) throw new Error(`no app for ${config}`);
  const res = await app.inject({ method: 'POST', url: '/mutate', payload: review });
  expect(res.statusCode).toBe(200);
  return (res.json() as { response: Json }).response;
}

function withObject(review: Json, object: Json): Json {
  return { ...review, request: { ...(review['request'] as Json), object } };
}

const patchedCases = Object.keys(REVIEW_CASES)
  .filter((n) => REVIEW_CASES[n]?.pod !== undefined)
  .flatMap((n) => Object.keys(CONFIGS).map((config) => [n, config] as const));

type Spec = { containers: { name: string; env?: Json[]; volumeMounts?: Json[]; securityContext?: Json }[] };

beforeAll(() => {
  requireKubectl();
});

describe('patches applied by kubectl and fast-json-patch', () => {
  it.each(patchedCases)('%s (%s)', async (name, config) => {
    const review = loadReview(name);
    const pod = (review['request'] as Json)['object'] as Json;
    const response = await admit(review, config);
    if (response['patch'] === undefined) {
      // Nothing to apply; the pod must still be schema-valid for the other cases to mean anything.
      validatePod(pod);
      return;
    }
    const patch = JSON.parse(Buffer.from(String(response['patch']), 'base64').toString('utf8')) as fastJsonPatch.Operation[];
    // fast-json-patch inserts op values by reference and later ops append to them: give each
    // consumer its own copy of the patch.
    expect(fastJsonPatch.validate(structuredClone(patch), structuredClone(pod))).toBeUndefined();
    const byLibrary = fastJsonPatch.applyPatch(structuredClone(pod), structuredClone(patch), true, false).newDocument as Json;
    const byKubectl = await kubectlPatchLocal(pod, patch);

    expect(byKubectl['spec']).toEqual(byLibrary['spec']);
    validatePod(byKubectl);
    // What the patch added, as the API server would store it.
    const added = patch.map((op) => op.op === 'add' && (op.value as Json)['name']);
    const spec = byKubectl['spec'] as Spec;
    const ovs = spec.containers.find((c) => c.name === 'compute')?.volumeMounts?.find((m) => m['name'] === 'ovs-run-dir');
    if (added.includes('ovs-run-dir')) expect(ovs?.['readOnly']).toBe(config.includes('writable') ? undefined : true);
    const sidecar = spec.containers.find((c) => c.env?.some((e) => e['name'] === 'NETWORK_BINDING_PLUGIN_NAME' && e['value'] === 'vhostuser'));
    if (sidecar !== undefined) {
      const env = sidecar.env?.filter((e) => e['name'] === 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS');
      expect(env).toEqual(config.includes('socket dirs') ? [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/run/vhost,/run/dpdk/' }] : []);
      const group = config === 'socket group';
      expect(sidecar.env?.filter((e) => e['name'] === 'KUBEVIRT_VHOSTUSER_SOCKET_GROUP')).toEqual(group ? [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_GROUP', value: '2001' }] : []);
      if (group) expect(sidecar.securityContext?.['runAsGroup']).toBe(2001);
    }
    const again = await admit(withObject(review, byKubectl), config);
    expect(again).not.toHaveProperty('patch');
    expect(again['allowed']).toBe(true);
  });

  it('kubectl rejects a patch that appends to an absent array, as the API server would', async () => {
    const pod = (loadReview('no-volumes')['request'] as Json)['object'];
    await expect(kubectlPatchLocal(pod, [{ op: 'add', path: '/spec/volumes/-', value: { name: 'x', emptyDir: {} } }])).rejects.toThrow(
      /kubectl patch --local failed: .*/,
    );
  });
});
