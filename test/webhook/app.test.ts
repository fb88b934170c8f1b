// The HTTP layer through fastify's inject(): no socket, no TLS (those have their own tests).
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import type { Lookups } from '../../webhook/src/k8s/sources.js';
import { createMetrics, type WebhookMetrics } from '../../webhook/src/metrics.js';
import { fakeLookups, fixtureLookups, loadApiObject, loadReview, type Json } from './fixtures.js';

const opened: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

interface Harness {
  app: ReturnType<typeof buildApp>;
  metrics: WebhookMetrics;
  logs: Json[];
}

function harness(args: string[] = [], lookups: Lookups = fixtureLookups()): Harness {
  const logs: Json[] = [];
  const metrics = createMetrics();
  const app = buildApp(parseWebhookArgs(['--dev-cert', ...args]), {
    lookups,
    metrics,
    logStream: { write: (line) => void logs.push(JSON.parse(line) as Json) },
  });
  opened.push(app);
  return { app, metrics, logs };
}

function post(h: Harness, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return h.app.inject({ method: 'POST', url: '/mutate', headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Which of our mount paths each container has, leaving out the containers named in `except`. */
function mountsByContainer(pod: Json, except: readonly string[] = []): Record<string, string[]> {
  const ours = new Set(COMPUTE);
  const spec = pod['spec'] as { containers: { name: string; volumeMounts?: { mountPath: string }[] }[] };
  const out: Record<string, string[]> = {};
  for (const c of spec.containers) {
    if (except.includes(c.name)) continue;
    out[c.name] = (c.volumeMounts ?? []).map((m) => m.mountPath.replace(/\/+$/, '')).filter((p) => ours.has(p)).sort();
  }
  return out;
}

function decodePatch(response: Json): unknown {
  return JSON.parse(Buffer.from(String(response['patch']), 'base64').toString('utf8'));
}

/** `patched`: the containers that must mount each volume once the patch is applied. */
type Expect = { patched: Record<string, readonly string[]> } | { allowed: true; warning?: RegExp } | { denied: number; message: RegExp };

// Mount paths of the three volumes (whatever the volume's name: network-resources-injector's counts).
const COMPUTE = ['/etc/podnetinfo', '/var/lib/cni/usrcni', '/var/run/openvswitch'];
const SIDECAR = ['/etc/podnetinfo', '/var/lib/cni/usrcni'];

const CASES: [string, Expect][] = [
  ['create-v0.53-vhostuser', { patched: { compute: COMPUTE } }],
  ['create-v1-binding', { patched: { compute: COMPUTE, 'hook-sidecar-0': SIDECAR } }],
  ['create-v1-binding-dryrun', { patched: { compute: COMPUTE, 'hook-sidecar-0': SIDECAR } }],
  ['create-v1alpha3-owner', { patched: { compute: COMPUTE } }],
  ['forged-user', { allowed: true, warning: /created by "system:serviceaccount:tests:default", not by a KubeVirt controller identity/ }],
  ['forged-owner', { allowed: true, warning: /no controller ownerReference to a VirtualMachineInstance/ }],
  ['non-launcher', { allowed: true }],
  ['already-mutated', { allowed: true }],
  ['nri-podnetinfo', { patched: { compute: COMPUTE, 'hook-sidecar-0': SIDECAR } }],
  ['no-volumes', { patched: { compute: COMPUTE, 'hook-sidecar-0': SIDECAR } }],
  ['several-containers', { patched: { compute: COMPUTE, 'hook-sidecar-0': SIDECAR } }],
  ['volume-conflict', { denied: 409, message: /volume "shared-dir" already exists with a configMap source/ }],
  ['update-v1-binding', { allowed: true }],
  ['not-a-pod', { allowed: true }],
];

describe('POST /mutate on the review fixtures', () => {
  it.each(CASES)('%s', async (name, want) => {
    const h = harness();
    const review = loadReview(name);
    const res = await post(h, review);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { apiVersion: string; kind: string; response: Json };
    expect(body.apiVersion).toBe('admission.k8s.io/v1');
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response['uid']).toBe((review['request'] as Json)['uid']);
    if ('patched' in want) {
      expect(body.response['allowed']).toBe(true);
      expect(body.response['patchType']).toBe('JSONPatch');
      const pod = (review['request'] as Json)['object'] as Json;
      const patched = fastJsonPatch.applyPatch(structuredClone(pod), decodePatch(body.response) as Operation[], true, false).newDocument as Json;
      expect(mountsByContainer(patched)).toEqual({ ...mountsByContainer(pod, Object.keys(want.patched)), ...want.patched });
    } else if ('denied' in want) {
      expect(body.response['allowed']).toBe(false);
      expect(body.response['status']).toMatchObject({ code: want.denied, message: expect.stringMatching(want.message) });
      expect(body.response).not.toHaveProperty('patch');
    } else {
      expect(body.response['allowed']).toBe(true);
      expect(body.response).not.toHaveProperty('patch');
      expect(body.response).not.toHaveProperty('patchType');
      if (want.warning === undefined) expect(body.response).not.toHaveProperty('warnings');
      else expect(body.response['warnings']).toEqual([expect.stringMatching(want.warning)]);
    }
    // Exactly one log line for the request, naming its uid.
    const lines = h.logs.filter((l) => l['uid'] === (review['request'] as Json)['uid']);
    expect(lines).toHaveLength(1);
  });
});

describe('POST /mutate decisions', () => {
  it('logs the uid, the pod, the outcome and the evidence on one line', async () => {
    const h = harness();
    await post(h, loadReview('create-v1-binding'));
    const line = h.logs.find((l) => l['msg'] === 'admission');
    expect(line).toMatchObject({
      uid: expect.any(String),
      pod: 'tests/virt-launcher-vhostuser-vm-',
      outcome: 'patched',
      ops: 9,
      evidence: 'container "hook-sidecar-0" serves binding "vhostuser"',
      us: expect.any(Number),
    });
  });

  it('logs the operation when it is not CREATE, and who created a forged launcher', async () => {
    const h = harness();
    await post(h, loadReview('update-v1-binding'));
    await post(h, loadReview('forged-user'));
    const [update, forged] = h.logs.filter((l) => l['msg'] === 'admission');
    expect(update).toMatchObject({ operation: 'UPDATE', outcome: 'allowed', reason: 'not-create' });
    expect(forged).toMatchObject({ outcome: 'warned', reason: 'forged', user: 'system:serviceaccount:tests:default', message: expect.stringContaining('kubevirt.io=virt-launcher') });
  });

  it('answers a forged launcher with 403 under --deny-forged, and counts the refusal', async () => {
    const h = harness(['--deny-forged']);
    const body = (await post(h, loadReview('forged-user'))).json() as { response: Json };
    expect(body.response['allowed']).toBe(false);
    expect(body.response['status']).toMatchObject({ code: 403, reason: 'Forbidden', message: expect.stringContaining('(--deny-forged)') });
    expect(await h.metrics.registry.getSingleMetricAsString('kubevirt_vhostuser_webhook_hostpath_refused_total')).toContain('reason="user"} 1');
  });

  it('decides from the pod alone offline: the 0.53 pod has no evidence of its own', async () => {
    const body = (await post(harness(['--offline'], { pending: () => [], close: async () => {} }), loadReview('create-v0.53-vhostuser'))).json() as {
      response: Json;
    };
    expect(body.response).toEqual({ uid: expect.any(String), allowed: true });
  });

  it('finds vhost-user through the NetworkAttachmentDefinition when the VMI binding is not one it recognises', async () => {
    // A fork's own binding field: only the NAD its network names can tell.
    const vmi = structuredClone(loadApiObject('vmi-vm-trex-1')) as Json & { spec: { domain: { devices: { interfaces: Json[] } } } };
    vmi.spec.domain.devices.interfaces[1] = { name: 'vhost-user-net-1', dpdkvhostuser: {} };
    const lookups = fakeLookups({ vmis: [vmi], nads: [loadApiObject('nad-userspace-ovs-net-1')] });
    const h = harness([], lookups);
    const body = (await post(h, loadReview('create-v0.53-vhostuser'))).json() as { response: Json };
    expect(decodePatch(body.response)).toHaveLength(7);
    expect(lookups.calls).toEqual(['vmi default/vm-trex-1', 'nad default/userspace-ovs-net-1']);
  });

  it('reads no NAD the pod annotation names when the VMI is missing', async () => {
    const lookups = fakeLookups({ nads: [loadApiObject('nad-userspace-ovs-net-1')] });
    const body = (await post(harness([], lookups), loadReview('create-v0.53-vhostuser'))).json() as { response: Json };
    expect(body.response).toEqual({ uid: expect.any(String), allowed: true });
    expect(lookups.calls).toEqual(['vmi default/vm-trex-1']);
  });

  it('sets the socket directories of --sidecar-socket-dir on our sidecar, and answers 409 when it already has others', async () => {
    const h = harness(['--sidecar-socket-dir', '/run/vhost', '--sidecar-socket-dir', '/run/dpdk/']);
    const patched = (await post(h, loadReview('create-v1-binding'))).json() as { response: Json };
    expect(decodePatch(patched.response)).toContainEqual({
      op: 'add',
      path: '/spec/containers/1/env/-',
      value: { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/run/vhost,/run/dpdk/' },
    });

    const review = loadReview('create-v1-binding') as { request: { object: { spec: { containers: { env: Json[] }[] } } } };
    review.request.object.spec.containers[1]?.env.push({ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/var/run/openvswitch' });
    const denied = (await post(h, review)).json() as { response: Json };
    expect(denied.response['allowed']).toBe(false);
    expect(denied.response).not.toHaveProperty('patch');
    expect(denied.response['status']).toEqual({
      status: 'Failure',
      code: 409,
      reason: 'Conflict',
      message: expect.stringMatching(/^pod tests\/virt-launcher-vhostuser-vm-: container "hook-sidecar-0" already sets KUBEVIRT_VHOSTUSER_SOCKET_DIRS to "\/var\/run\/openvswitch"; /),
    });
  });

  it('makes no lookup for an already-mutated pod', async () => {
    const lookups = fixtureLookups();
    await post(harness([], lookups), loadReview('already-mutated'));
    expect(lookups.calls).toEqual([]);
  });

  it('answers 500 when a lookup outlives --lookup-timeout-ms, so the failurePolicy applies', async () => {
    const never: Lookups = { vmi: { getVmi: () => new Promise(() => {}) }, pending: () => [], close: async () => {} };
    const res = await post(harness(['--lookup-timeout-ms', '50'], never), loadReview('create-v0.53-vhostuser'));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      statusCode: 500,
      code: 'E_LOOKUP_TIMEOUT',
      message: 'VirtualMachineInstance default/vm-trex-1: no answer within 50 ms (--lookup-timeout-ms)',
    });
  });

  it('answers 500 naming the object when the API answers with an error', async () => {
    const failing: Lookups = { vmi: { getVmi: async () => Promise.reject(new Error('HTTP-Code: 403 forbidden')) }, pending: () => [], close: async () => {} };
    const res = await post(harness([], failing), loadReview('create-v0.53-vhostuser'));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'E_LOOKUP_FAILED', message: 'VirtualMachineInstance default/vm-trex-1: HTTP-Code: 403 forbidden' });
  });

  it('answers 500 without internals when something unexpected throws', async () => {
    const evil = { metadata: { name: 'vm-trex-1', namespace: 'default' }, get spec(): never { throw new Error('boom at /srv/internal.ts:1') } };
    const h = harness([], { vmi: { getVmi: async () => evil }, pending: () => [], close: async () => {} });
    const res = await post(h, loadReview('create-v0.53-vhostuser'));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, code: 'E_INTERNAL', message: 'internal error; see the webhook log' });
    expect(res.body).not.toContain('boom');
    expect(h.logs.find((l) => l['outcome'] === 'error')?.['err']).toMatchObject({ message: 'boom at /srv/internal.ts:1' });
  });
});

describe('POST /mutate bad input', () => {
  const cases: [string, () => { body: unknown; headers?: Record<string, string> }, number, string, RegExp][] = [
    ['not JSON', () => ({ body: '{"apiVersion": ' }), 400, 'E_REVIEW_INVALID', /JSON/],
    ['an empty body', () => ({ body: '' }), 400, 'E_REVIEW_INVALID', /empty body/],
    ['text/plain', () => ({ body: JSON.stringify(loadReview('create-v1-binding')), headers: { 'content-type': 'text/plain' } }), 415, 'E_CONTENT_TYPE', /application\/json/],
    ['a JSON array', () => ({ body: [] }), 400, 'E_REVIEW_INVALID', /not a JSON object/],
    ['admission.k8s.io/v1beta1', () => ({ body: loadReview('bad-v1beta1') }), 400, 'E_REVIEW_INVALID', /only admission.k8s.io\/v1 AdmissionReview is served/],
    ['no request.uid', () => ({ body: loadReview('bad-no-uid') }), 400, 'E_REVIEW_INVALID', /^request.uid: /],
    ['a pod without containers', () => {
      const review = loadReview('create-v1-binding') as { request: { object: { spec: Json } } };
      delete review.request.object.spec['containers'];
      return { body: review };
    }, 400, 'E_REVIEW_INVALID', /^request.object.spec.containers: /],
  ];

  it.each(cases)('%s -> %i with a JSON error, and the server keeps serving', async (_name, make, status, code, message) => {
    const h = harness();
    const { body, headers } = make();
    const res = await post(h, body, headers);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ statusCode: status, code, message: expect.stringMatching(message) });
    expect(res.body).not.toMatch(/stack|at .*\.js:\d+/);
    expect((await post(h, loadReview('create-v1-binding'))).statusCode).toBe(200);
  });

  it('answers 413 above --body-limit-bytes', async () => {
    const h = harness(['--body-limit-bytes', '2048']);
    const res = await post(h, loadReview('create-v1-binding'));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ statusCode: 413, code: 'E_BODY_TOO_LARGE', message: 'body larger than 2048 bytes (--body-limit-bytes)' });
  });

  it('answers 404 with a JSON error for other paths', async () => {
    const res = await harness().app.inject({ method: 'GET', url: '/mutate' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ statusCode: 404, code: 'E_NOT_FOUND', message: 'no route GET /mutate' });
  });
});

describe('health and metrics', () => {
  it('/healthz is ok; /readyz waits for the caches', async () => {
    let pending = ['virtualmachineinstances.kubevirt.io cache'];
    const h = harness([], { ...fixtureLookups(), pending: () => pending });
    expect((await h.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const notReady = await h.app.inject({ url: '/readyz' });
    expect([notReady.statusCode, notReady.json()]).toEqual([503, { status: 'not ready', waiting: pending }]);
    pending = [];
    const ready = await h.app.inject({ url: '/readyz' });
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }]);
  });

  it('/metrics counts requests by outcome, patched pods and latency', async () => {
    const h = harness();
    await post(h, loadReview('create-v1-binding'));
    await post(h, loadReview('non-launcher'));
    await post(h, '{');
    const res = await h.app.inject({ url: '/metrics' });
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    expect(res.body).toContain('kubevirt_vhostuser_webhook_admission_requests_total{outcome="patched"} 1');
    expect(res.body).toContain('kubevirt_vhostuser_webhook_admission_requests_total{outcome="allowed"} 1');
    expect(res.body).toContain('kubevirt_vhostuser_webhook_admission_requests_total{outcome="invalid"} 1');
    expect(res.body).toContain('kubevirt_vhostuser_webhook_pods_patched_total 1');
    expect(res.body).toContain('kubevirt_vhostuser_webhook_admission_duration_seconds_count{outcome="patched"} 1');
  });
});
