// What the webhook's VMI and NAD caches hold, and its memory while it caches a hostile cluster.
// A VMI owner chooses how large their VMI is (cloud-init user data, annotations) and every VMI
// in the cluster enters the cache: the cache must keep only what the decision reads, and the list
// must never be held whole. In-process through the real client against the HTTPS API stub, then
// the real webhook process (dist/) listing 1000 VMIs of 1 MB that the stub makes as it streams
// them; bench/cache-memory.js runs the full 10 000 (10 GB), too slow for a test on 2 cores.
import { afterEach, describe, expect, it } from 'vitest';
import { CHART_MEMORY_LIMIT_MIB, runCacheMemory } from '../../bench/cache-memory.js';
import { connectKubernetes } from '../../webhook/src/k8s/client.js';
import { isPartial } from '../../webhook/src/k8s/project.js';
import type { KubeObject, Lookups } from '../../webhook/src/k8s/sources.js';
import { loadApiObject } from '../webhook/fixtures.js';
import { assertDistFresh, eventually, figure } from './helpers.js';
import { K8sStub, type StubObject } from './k8s-stub.js';

const SECRET = 'password: hunter2';
const signal = () => ({ signal: AbortSignal.timeout(5_000) });

/** A VMI the way users write them: networking, and everything else the webhook never reads. */
function fatVmi(name: string): StubObject {
  const vmi = structuredClone(loadApiObject('vmi-vhostuser-vm')) as StubObject & { spec: Record<string, unknown> };
  vmi.metadata = { name, namespace: 'tests', uid: `uid-${name}` };
  (vmi.metadata as Record<string, unknown>)['annotations'] = { 'kubectl.kubernetes.io/last-applied-configuration': `{"userData":"${SECRET}"}` };
  vmi.spec['volumes'] = [{ name: 'cloudinit', cloudInitNoCloud: { userData: `#cloud-config\n${SECRET}\n${'x'.repeat(100_000)}` } }];
  vmi['status'] = { phase: 'Running', guestOSInfo: { id: 'fedora' } };
  return vmi;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connected(stub: K8sStub): Promise<Lookups> {
  await stub.start();
  const lookups = await connectKubernetes({ kubeconfig: await stub.kubeconfig(), maxBackoffMs: 400, log: { info: () => {}, warn: () => {} } });
  cleanups.push(() => stub.close(), () => lookups.close());
  expect(await eventually(() => lookups.pending().length === 0)).toBe(true);
  return lookups;
}

const EXPECTED_VMI = {
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  spec: {
    domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }, { name: 'net1', binding: { name: 'vhostuser' } }] } },
    networks: [{ name: 'default', pod: {} }, { name: 'net1', multus: { networkName: 'vhostuser-network' } }],
  },
};

describe('what the caches keep', () => {
  it('keeps of a VMI only its names, uid, interface bindings and networks: from the list, a watch event and a direct read', async () => {
    const stub = new K8sStub();
    stub.put('vmi', fatVmi('listed'));
    const lookups = await connected(stub);
    stub.put('vmi', fatVmi('watched'));
    let watched: KubeObject | undefined;
    // Until the event arrives, reads miss the cache and go to the API: wait for one that does not.
    const fromCache = async () => {
      const gets = stub.count('get');
      watched = await lookups.vmi?.getVmi('tests', 'watched', 'uid-watched', signal());
      return watched !== undefined && stub.count('get') === gets;
    };
    expect(await eventually(fromCache)).toBe(true);
    const listed = await lookups.vmi?.getVmi('tests', 'listed', 'uid-listed', signal());
    // A uid the cache does not know: read directly, and projected all the same.
    const direct = await lookups.vmi?.getVmi('tests', 'listed', '', signal());
    for (const [how, vmi] of Object.entries({ listed, watched, direct })) {
      expect(vmi, how).toMatchObject(EXPECTED_VMI);
      expect(Object.keys(vmi ?? {}).sort(), how).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
      expect(Object.keys(vmi?.metadata ?? {}).sort(), how).toEqual(['name', 'namespace', 'resourceVersion', 'uid']);
      expect(JSON.stringify(vmi), how).not.toContain('hunter2');
      expect(JSON.stringify(vmi).length, how).toBeLessThan(600);
    }
  });

  it('keeps a NAD config up to 64 KiB; a larger one is read directly when needed, not cached', async () => {
    const stub = new K8sStub();
    const nad = loadApiObject('nad-vhostuser-network') as StubObject;
    const big = { ...nad, metadata: { name: 'big', namespace: 'tests' }, spec: { config: JSON.stringify({ ...JSON.parse((nad['spec'] as { config: string }).config), pad: 'p'.repeat(70 * 1024) }) } };
    stub.put('nad', nad);
    stub.put('nad', big);
    const lookups = await connected(stub);
    const small = await lookups.nad?.getNad('tests', 'vhostuser-network', signal());
    expect(small).toEqual({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: expect.objectContaining({ name: 'vhostuser-network' }), spec: nad['spec'] });
    expect(stub.count('get', 'nad')).toBe(0);
    const read = await lookups.nad?.getNad('tests', 'big', signal());
    expect(stub.count('get', 'nad', 'tests/big')).toBe(1);
    expect((read?.['spec'] as { config: string }).config).toBe(big.spec.config);
    expect(isPartial(read as object)).toBe(false);
  });
});

describe('memory of the real webhook process', () => {
  it(`lists 1000 VMIs of 1 MB (1 GB of JSON) and stays under the chart's ${CHART_MEMORY_LIMIT_MIB} MiB limit`, async () => {
    assertDistFresh();
    const { figures, stderr } = await runCacheMemory({ count: 1000, itemBytes: 1024 * 1024, syncTimeoutMs: 40_000 });
    for (const [name, value] of Object.entries(figures)) figure(name, value);
    const f = (name: string) => [name, figures[name]];
    expect(['cache_synced', 'cache_synced_objects', 'cache_admissions_patched', 'cache_direct_reads'].map(f), stderr).toEqual([
      ['cache_synced', 1],
      ['cache_synced_objects', 1000],
      ['cache_admissions_patched', 20],
      ['cache_direct_reads', 0],
    ]);
    expect(figures['cache_list_streamed_mib']).toBeGreaterThanOrEqual(1000);
    expect(figures['cache_rss_peak_mib']).toBeLessThan(CHART_MEMORY_LIMIT_MIB);
    expect(figures['cache_rss_after_mib']).toBeLessThan(CHART_MEMORY_LIMIT_MIB);
  }, 60_000);
});
