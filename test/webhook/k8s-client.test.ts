// k8s/client.ts with the real @kubernetes/client-node, over real TLS, against the fake API server of
// fake-apiserver.ts (no kube-apiserver can run here): caches sync, reads hit the cache, misses and
// stale uids read directly, a missing NAD CRD is not fatal, and lookups stay bounded.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { connectKubernetes, type ClientLog } from '../../webhook/src/k8s/client.js';
import { runWebhook } from '../../webhook/src/main.js';
import { withDeadline, type KubeObject, type Lookups } from '../../webhook/src/k8s/sources.js';
import { makeCa, makeServerCert } from '../helpers/certs.js';
import { startFakeApiServer, kubeconfigFor, type FakeApiOptions, type FakeApiServer } from './fake-apiserver.js';
import { loadApiObject, loadReview } from './fixtures.js';
import { call } from './https.js';

const VMI = loadApiObject('vmi-vm-trex-1');
const UID = VMI.metadata?.uid ?? '';
let tls: FakeApiOptions['tls'];
beforeAll(async () => {
  const ca = await makeCa('fake-apiserver-ca');
  tls = { ...(await makeServerCert(ca, ['localhost'])), ca: ca.cert };
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const quietLog = { info: () => {}, warn: () => {} };
const signal = () => ({ signal: AbortSignal.timeout(5000) });

async function writeKubeconfig(api: FakeApiServer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'config'), kubeconfigFor(api.url, tls.ca));
  await writeFile(join(dir, 'tls.crt'), tls.cert);
  await writeFile(join(dir, 'tls.key'), tls.key);
  return dir;
}

async function connect(api: FakeApiServer, log: ClientLog = quietLog): Promise<Lookups> {
  const dir = await writeKubeconfig(api);
  const lookups = await connectKubernetes({ kubeconfig: join(dir, 'config'), log, maxBackoffMs: 200 });
  cleanups.push(() => lookups.close());
  return lookups;
}

async function synced(lookups: Lookups): Promise<void> {
  while (lookups.pending().length > 0) await new Promise((r) => setTimeout(r, 10));
}

async function start(options: Omit<FakeApiOptions, 'tls'>): Promise<FakeApiServer> {
  const api = await startFakeApiServer({ ...options, tls });
  cleanups.push(() => api.close());
  return api;
}

const directReads = (api: FakeApiServer) => api.requests.filter((r) => r.includes('/namespaces/'));

describe('connectKubernetes', () => {
  it('syncs both caches, then answers from them without a request', async () => {
    const api = await start({ vmis: [VMI], nads: [loadApiObject('nad-userspace-ovs-net-1')] });
    const lookups = await connect(api);
    await synced(lookups);
    expect(api.requests).toEqual(
      expect.arrayContaining([
        'GET /apis/kubevirt.io/v1/virtualmachineinstances',
        'GET /apis/kubevirt.io/v1/virtualmachineinstances?watch',
        'GET /apis/k8s.cni.cncf.io/v1/network-attachment-definitions',
      ]),
    );
    expect(await lookups.vmi?.getVmi('default', 'vm-trex-1', UID, signal())).toMatchObject({ metadata: { uid: UID } });
    expect(await lookups.nad?.getNad('default', 'userspace-ovs-net-1', signal())).toMatchObject({ kind: 'NetworkAttachmentDefinition' });
    expect(directReads(api)).toEqual([]);
  });

  it('lists the caches it still waits for', async () => {
    const api = await start({});
    const lookups = await connect(api);
    expect(lookups.pending().length).toBeGreaterThan(0);
    await synced(lookups);
    expect(lookups.pending()).toEqual([]);
  });

  it('keeps the cache current from watch events', async () => {
    const api = await start({});
    const lookups = await connect(api);
    await synced(lookups);
    while (!api.requests.includes('GET /apis/kubevirt.io/v1/virtualmachineinstances?watch')) await new Promise((r) => setTimeout(r, 10));
    api.put('virtualmachineinstances', VMI);
    let got: KubeObject | undefined;
    // The event travels over the watch stream; reads made meanwhile fall back to direct reads.
    while (got === undefined || directReads(api).length > 0) {
      api.requests.length = 0;
      got = await lookups.vmi?.getVmi('default', 'vm-trex-1', UID, signal());
    }
    expect(got).toMatchObject({ metadata: { name: 'vm-trex-1' } });
  });

  it('reads directly on a miss, and returns undefined for an object the API does not have', async () => {
    const api = await start({});
    const lookups = await connect(api);
    await synced(lookups);
    api.put('virtualmachineinstances', VMI, false); // stored, but no watch event: the cache misses it
    expect(await lookups.vmi?.getVmi('default', 'vm-trex-1', UID, signal())).toMatchObject({ metadata: { uid: UID } });
    expect(await lookups.vmi?.getVmi('default', 'gone', '', signal())).toBeUndefined();
    expect(directReads(api)).toEqual([
      'GET /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm-trex-1',
      'GET /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/gone',
    ]);
  });

  it('reads again when the cached VMI has another uid (a recreated VMI), and ignores a mismatch', async () => {
    const stale = { ...VMI, metadata: { ...VMI.metadata, uid: 'old-uid' } };
    const api = await start({ vmis: [stale] });
    const lookups = await connect(api);
    await synced(lookups);
    expect(await lookups.vmi?.getVmi('default', 'vm-trex-1', UID, signal())).toBeUndefined();
    expect(directReads(api)).toEqual(['GET /apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/vm-trex-1']);
  });

  it('treats an uninstalled NAD CRD as empty instead of never becoming ready', async () => {
    const warnings: string[] = [];
    const api = await start({ nadCrdMissing: true });
    const lookups = await connect(api, { info: () => {}, warn: (_o: object, msg: string) => void warnings.push(msg) });
    await synced(lookups);
    expect(await lookups.nad?.getNad('default', 'userspace-ovs-net-1', signal())).toBeUndefined();
    expect(warnings).toContain('resource not served by the API; treating it as empty');
  });

  it('aborts a direct read that outlives the lookup deadline', async () => {
    const api = await start({});
    const lookups = await connect(api);
    await synced(lookups);
    api.getDelayMs = 2000;
    const deadline = AbortSignal.timeout(100);
    const read = lookups.vmi?.getVmi('default', 'vm-trex-1', UID, { signal: deadline }) ?? Promise.resolve(undefined);
    await expect(withDeadline(read, deadline, 'VirtualMachineInstance default/vm-trex-1', 100)).rejects.toMatchObject({ code: 'E_LOOKUP_TIMEOUT' });
    // The HTTP request itself was aborted, not left running.
    await expect(read).rejects.toThrow(/abort/i);
  });
});

describe('the webhook with API access', () => {
  it('turns ready once the caches sync, and patches the 0.53 pod through its VMI', async () => {
    const api = await start({ vmis: [VMI] });
    const dir = await writeKubeconfig(api);
    const stop = new AbortController();
    let listening!: (port: number) => void;
    const port = new Promise<number>((resolve) => (listening = resolve));
    const args = ['--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--kubeconfig', join(dir, 'config'), '--listen', '127.0.0.1:0'];
    const done = runWebhook(parseWebhookArgs(args), { stop: stop.signal, logStream: { write: () => {} }, onListening: (a) => listening(a.port) });
    cleanups.push(async () => {
      stop.abort();
      expect(await done).toBe(0);
    });
    const opts = { port: await port, ca: tls.ca, servername: 'localhost' };
    // /healthz answers while the client is still loading.
    expect((await call({ ...opts, path: '/healthz' })).status).toBe(200);
    let ready = await call({ ...opts, path: '/readyz' });
    while (ready.status !== 200) {
      expect(ready.status).toBe(503);
      await new Promise((r) => setTimeout(r, 20));
      ready = await call({ ...opts, path: '/readyz' });
    }
    const reply = await call({ ...opts, body: JSON.stringify(loadReview('create-v0.53-vhostuser')) });
    const response = (JSON.parse(reply.body) as { response: { patch?: string } }).response;
    expect(JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString())).toHaveLength(7);
  });
});
