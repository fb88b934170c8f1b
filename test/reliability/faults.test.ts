// API faults during VMI lookups, through the webhook's real Kubernetes client (informers and
// direct reads over HTTPS) against K8sStub: no real API server can run on this machine, so the
// stub speaks the list/watch/get protocol for VMIs and NADs on 127.0.0.1 and injects the faults.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectKubernetes } from '../../webhook/src/k8s/client.js';
import type { Lookups } from '../../webhook/src/k8s/sources.js';
import { loadApiObject, loadPod } from '../webhook/fixtures.js';
import { eventually, figure, harness, patchOps, reviewOf, type Harness, type Json } from './helpers.js';
import { K8sStub, type StubObject } from './k8s-stub.js';

const LOOKUP_TIMEOUT_MS = 300;
const stub = new K8sStub();
let lookups: Lookups;
let h: Harness;
const clientLog: string[] = [];

/** The 0.53 launcher pod (no sidecar: only its VMI or NAD says vhost-user) owned by VMI `name`. */
function podOf(name: string, uid: string): Json {
  const pod = loadPod('launcher-v0.53-vhostuser');
  const meta = pod['metadata'] as Json;
  meta['generateName'] = `virt-launcher-${name}-`;
  // No Multus networks: the VMI is the only evidence, so a failed VMI read cannot be masked by a NAD.
  meta['annotations'] = {};
  meta['ownerReferences'] = [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name, uid, controller: true, blockOwnerDeletion: true }];
  return pod;
}

function vmiNamed(name: string, uid: string): StubObject {
  const vmi = structuredClone(loadApiObject('vmi-vm-trex-1')) as StubObject;
  vmi.metadata = { name, namespace: 'default', uid };
  return vmi;
}

async function admit(name: string, uid: string) {
  return h.post(JSON.stringify(reviewOf(podOf(name, uid), { namespace: 'default' })));
}

function errorCount(text: string): number {
  const m = /admission_requests_total\{outcome="error"\} (\d+)/.exec(text);
  return m === null ? 0 : Number(m[1]);
}

beforeAll(async () => {
  stub.put('vmi', vmiNamed('vm-trex-1', 'uid-trex'));
  stub.put('nad', loadApiObject('nad-userspace-ovs-net-1') as StubObject);
  await stub.start();
  lookups = await connectKubernetes({
    kubeconfig: await stub.kubeconfig(),
    maxBackoffMs: 400,
    log: { info: (_o, m) => void clientLog.push(m), warn: (_o, m) => void clientLog.push(m) },
  });
  h = harness(['--lookup-timeout-ms', String(LOOKUP_TIMEOUT_MS)], { lookups });
  // Not a timing assertion: waits for the informers' first list and watch.
  const synced = await eventually(() => lookups.pending().length === 0);
  expect(synced, `caches never synced; stub saw ${JSON.stringify(stub.requests)}; client said ${JSON.stringify(clientLog)}`).toBe(true);
});

afterEach(() => {
  for (const k of ['list', 'watch', 'get'] as const) delete stub.faults[k];
});

afterAll(async () => {
  await h.close();
  await lookups.close();
  await stub.close();
});

describe('VMI lookups through the real client against an API stub', () => {
  it('serves a VMI from the synced cache without reading the API', async () => {
    const gets = stub.count('get');
    const res = await admit('vm-trex-1', 'uid-trex');
    expect(res.status).toBe(200);
    // Three volumes, compute's three mounts, and the annotation that records the mutation.
    const ops = patchOps(res.body);
    expect(ops).toHaveLength(7);
    expect(ops.at(-1)?.path).toBe('/metadata/annotations/kubevirt-vhostuser.io~1mutation');
    expect(stub.count('get')).toBe(gets);
    expect((await h.app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it.each([403, 500])('answers HTTP 500 E_LOOKUP_FAILED when a read gets %i, so the failurePolicy applies', async (code) => {
    stub.faults.get = { status: code };
    const res = await admit('vm-missing', 'uid-missing');
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'E_LOOKUP_FAILED' });
    expect((res.body as { message: string }).message).toMatch(/^VirtualMachineInstance default\/vm-missing: /);
    expect(stub.count('get', 'vmi', 'default/vm-missing')).toBeGreaterThan(0);
  });

  it('answers HTTP 500 E_LOOKUP_TIMEOUT when the API is slow, and cancels the read itself', async () => {
    stub.faults.get = { delayMs: 20_000 };
    const started = performance.now();
    const res = await admit('vm-slow', 'uid-slow');
    figure('faults: slow API answered after ms', Math.round(performance.now() - started));
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'E_LOOKUP_TIMEOUT', message: `VirtualMachineInstance default/vm-slow: no answer within ${LOOKUP_TIMEOUT_MS} ms (--lookup-timeout-ms)` });
    // The HTTP request to the API is aborted too, not left running behind the answer.
    const read = stub.requests.findLast((r) => r.kind === 'get' && r.target === 'default/vm-slow');
    expect(await eventually(() => read?.aborted === true, 5_000)).toBe(true);
  });

  it('answers HTTP 500 when the API does not answer at all', async () => {
    stub.faults.get = { hang: true };
    const res = await admit('vm-hang', 'uid-hang');
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ code: 'E_LOOKUP_TIMEOUT' });
  });

  it('counts every failed lookup in admission_requests_total{outcome="error"}', async () => {
    const before = errorCount((await h.app.inject({ url: '/metrics' })).body);
    stub.faults.get = { status: 500 };
    await admit('vm-missing', 'uid-missing');
    await admit('vm-missing', 'uid-missing');
    expect(errorCount((await h.app.inject({ url: '/metrics' })).body)).toBe(before + 2);
  });

  it('keeps serving cached VMIs while the API is unreachable, fails reads with 500, and recovers', async () => {
    await stub.stop();
    const down = await admit('vm-missing', 'uid-missing');
    expect(down.status).toBe(500);
    expect(down.body).toMatchObject({ code: 'E_LOOKUP_FAILED' });
    // The cache still knows vm-trex-1.
    expect(patchOps((await admit('vm-trex-1', 'uid-trex')).body)).toHaveLength(7);

    // Created while the API was down; once it is back, only the cache may answer (reads get 403).
    stub.put('vmi', vmiNamed('vm-late', 'uid-late'));
    const lists = stub.count('list', 'vmi') + stub.count('watch', 'vmi');
    await stub.start();
    stub.faults.get = { status: 403 };
    const started = performance.now();
    const recovered = await eventually(async () => patchOps((await admit('vm-late', 'uid-late')).body).length === 7, 20_000, 100);
    figure('faults: cache recovered after API came back, ms', Math.round(performance.now() - started));
    expect(recovered).toBe(true);
    expect(stub.count('list', 'vmi') + stub.count('watch', 'vmi')).toBeGreaterThan(lists);
    expect(lookups.pending()).toEqual([]);
  });
});

describe('cache restarts', () => {
  it('gives up on a list that never answers and syncs once the API answers again', async () => {
    const hung = new K8sStub();
    hung.faults.list = { hang: true };
    await hung.start();
    const client = await connectKubernetes({ kubeconfig: await hung.kubeconfig(), maxBackoffMs: 400, listTimeoutMs: 500, log: { info: () => {}, warn: () => {} } });
    try {
      expect(await eventually(() => hung.count('list') >= 2, 5_000)).toBe(true);
      delete hung.faults.list;
      expect(await eventually(() => client.pending().length === 0, 10_000)).toBe(true);
      // The abandoned lists were cancelled, not left open on the API server.
      expect(hung.requests.filter((r) => r.kind === 'list').slice(0, 2).every((r) => r.aborted)).toBe(true);
    } finally {
      await client.close();
      await hung.close();
    }
  });

  it('starts each outage from the shortest retry wait again, however long the last one was', async () => {
    const api = new K8sStub();
    await api.start();
    const waits: number[] = [];
    const log = { info: () => {}, warn: (o: object) => void waits.push(Number((o as { retryInMs?: number }).retryInMs)) };
    const client = await connectKubernetes({ kubeconfig: await api.kubeconfig(), maxBackoffMs: 1_000, log });
    try {
      expect(await eventually(() => client.pending().length === 0)).toBe(true);
      // A first outage long enough for the wait to reach its 1 s cap.
      await api.stop();
      expect(await eventually(() => waits.includes(1_000), 10_000)).toBe(true);
      await api.start();
      // Both caches watch again (resuming from their resourceVersion: no list needed).
      expect(await eventually(() => api.requests.filter((r) => r.kind === 'watch' && !r.aborted).length === 2, 10_000)).toBe(true);
      // A second outage: the first retry waits the shortest time again.
      waits.length = 0;
      await api.stop();
      expect(await eventually(() => waits.length > 0, 10_000)).toBe(true);
      expect(waits[0]).toBe(500);
    } finally {
      await client.close();
      await api.close();
    }
  });
});
