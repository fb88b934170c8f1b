// NAD lookups under hostile input, through the webhook's real Kubernetes client against the HTTPS
// API stub (no API server can run here). The VMI owner writes any VMI annotation, KubeVirt copies
// it onto the launcher pod, `k8s.v1.cni.cncf.io/networks` included: the webhook must not read the
// NADs that annotation names (once, 1000 names meant 1000 API reads in one request), and reads
// at most --max-nad-lookups of those the VMI's own networks name, each at most once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectKubernetes } from '../../webhook/src/k8s/client.js';
import type { Lookups } from '../../webhook/src/k8s/sources.js';
import { parseExposition } from '../webhook/exposition.js';
import { loadApiObject, loadPod } from '../webhook/fixtures.js';
import { eventually, grantsHostPath, harness, patchOps, reviewOf, type Harness, type Json } from './helpers.js';
import { K8sStub, type StubObject } from './k8s-stub.js';

const stub = new K8sStub();
let lookups: Lookups;
let h: Harness;

/** The userspace vhost-user NAD of another tenant, in their namespace. */
const THEIRS: StubObject = { ...(loadApiObject('nad-userspace-ovs-net-1') as StubObject), metadata: { name: 'dpdk-net', namespace: 'tenant-b' } };

/** A VMI in namespace `default` whose interfaces (with a Multus network each, named `nadOf(name)`) are given. */
function vmi(name: string, interfaces: Json[], nadOf: (iface: string, i: number) => string = (n) => `nad-${n}`): StubObject {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: {
      domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }, ...interfaces] } },
      networks: [{ name: 'default', pod: {} }, ...interfaces.map((i, n) => ({ name: i['name'], multus: { networkName: nadOf(String(i['name']), n) } }))],
    },
  };
}

/** The 0.53 launcher pod (no sidecar) of VMI `name`, with the Multus annotation the VMI owner chose. */
function podOf(name: string, networks: string | undefined): Json {
  const pod = loadPod('launcher-v0.53-vhostuser');
  const meta = pod['metadata'] as Json;
  meta['generateName'] = `virt-launcher-${name}-`;
  meta['annotations'] = networks === undefined ? {} : { 'k8s.v1.cni.cncf.io/networks': networks };
  meta['ownerReferences'] = [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name, uid: `uid-${name}`, controller: true }];
  return pod;
}

async function admit(name: string, networks?: string) {
  return h.post(JSON.stringify(reviewOf(podOf(name, networks), { namespace: 'default' })));
}

const nadReads = () => stub.count('get', 'nad');

/** kubevirt_vhostuser_webhook_nads_unread_total as /metrics exposes it. */
async function nadsUnread(): Promise<number> {
  const res = await h.app.inject({ url: '/metrics' });
  return parseExposition(res.body).value('kubevirt_vhostuser_webhook_nads_unread_total') ?? Number.NaN;
}

beforeAll(async () => {
  stub.put('nad', THEIRS);
  stub.put('nad', { ...THEIRS, metadata: { name: 'mine', namespace: 'default' } });
  // Bridge-bound and binding-plugin interfaces: never vhost-user, whatever their NAD says.
  stub.put('vmi', vmi('vm-plain', [{ name: 'br', bridge: {} }, { name: 'passt', binding: { name: 'passt' } }], (n) => (n === 'br' ? 'tenant-b/dpdk-net' : 'mine')));
  // 40 networks with a binding the webhook does not recognise (a fork's field), none of them vhost-user.
  stub.put('vmi', vmi('vm-forty', Array.from({ length: 40 }, (_, i) => ({ name: `n${i}`, fork: {} }))));
  // The same NAD named five times, with and without its namespace.
  stub.put('vmi', vmi('vm-same', Array.from({ length: 5 }, (_, i) => ({ name: `s${i}`, fork: {} })), (_n, i) => (i % 2 === 0 ? 'nad-gone' : 'default/nad-gone')));
  // Another namespace's NAD, spelled out by the VMI itself.
  stub.put('vmi', vmi('vm-cross', [{ name: 'x', fork: {} }], () => 'tenant-b/dpdk-net'));
  await stub.start();
  lookups = await connectKubernetes({ kubeconfig: await stub.kubeconfig(), maxBackoffMs: 400, log: { info: () => {}, warn: () => {} } });
  h = harness([], { lookups });
  expect(await eventually(() => lookups.pending().length === 0)).toBe(true);
});

afterAll(async () => {
  await h.close();
  await lookups.close();
  await stub.close();
});

describe('NAD lookups a VMI owner can cause', () => {
  it('reads none of 1000 NADs the pod annotation names', async () => {
    const names = Array.from({ length: 1000 }, (_, i) => `ns${i % 50}/nad-${i}`).join(',');
    const before = nadReads();
    const res = await admit('vm-plain', names);
    expect(res.status).toBe(200);
    expect(patchOps(res.body)).toEqual([]);
    expect(nadReads() - before).toBe(0);
  });

  it("never grants the hostPath because the pod annotation names someone else's userspace NAD", async () => {
    for (const networks of ['tenant-b/dpdk-net', '[{"name":"dpdk-net","namespace":"tenant-b"}]', 'mine']) {
      const res = await admit('vm-plain', networks);
      expect(res.status).toBe(200);
      expect(grantsHostPath(patchOps(res.body)), networks).toBe(false);
    }
  });

  it('reads no NAD at all for a pod whose VMI does not exist', async () => {
    const before = nadReads();
    const res = await admit('vm-nowhere', 'tenant-b/dpdk-net,mine');
    expect(res.status).toBe(200);
    expect(patchOps(res.body)).toEqual([]);
    expect(nadReads() - before).toBe(0);
  });

  it('reads at most 16 of 40 NADs the VMI names, and the warning and the metric say so', async () => {
    const before = nadReads();
    const unreadBefore = await nadsUnread();
    const res = await admit('vm-forty');
    expect(res.status).toBe(200);
    expect(patchOps(res.body)).toEqual([]);
    expect(nadReads() - before).toBe(16);
    expect((res.body as { response: { warnings?: string[] } }).response.warnings).toEqual([
      expect.stringContaining('names 40 NetworkAttachmentDefinitions; read the first 16 (--max-nad-lookups) and left 24 unread, from default/nad-n16 on'),
    ]);
    expect(h.logs.at(-1)).toMatchObject({ msg: 'admission', reason: 'no-vhostuser', message: expect.stringContaining('left 24 unread') });
    expect((await nadsUnread()) - unreadBefore).toBe(24);
  });

  it('reads a NAD the VMI names five times once', async () => {
    const before = nadReads();
    expect((await admit('vm-same')).status).toBe(200);
    expect(nadReads() - before).toBe(1);
  });

  it('counts a NAD of another namespace when the VMI itself names it as namespace/name', async () => {
    const res = await admit('vm-cross');
    expect(grantsHostPath(patchOps(res.body))).toBe(true);
    // Served from the informer cache: no direct read.
    expect(stub.requests.filter((r) => r.kind === 'get' && r.target === 'tenant-b/dpdk-net')).toEqual([]);
  });
});
