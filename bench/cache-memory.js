// The webhook's memory while it caches a hostile cluster: the real webhook process (dist/,
// `kubevirt-vhostuser webhook`, with the heap node picks under the chart's 256 MiB limit) lists
// VMIs from test/reliability/k8s-stub.ts over HTTPS (no API server can run here). The stub makes
// `--count` VMIs of `--item-mib` each (cloud-init user data holding a "secret"), one at a time as
// the paged list streams, so the 10 GB of the default run never exist anywhere. Measures the
// process's peak RSS (VmHWM) while it lists, its RSS once synced and after serving admissions
// from the cache, and prints `name: value` lines.
// Usage: node bench/cache-memory.js [--count 10000] [--item-mib 1]   (npm run build first)
import { request } from 'node:https';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { K8sStub } from '../test/reliability/k8s-stub.ts';
import { CHART_MEMORY_LIMIT_MIB, startWebhookProcess } from './lib/webhook-process.js';

export { CHART_MEMORY_LIMIT_MIB };
const CONTROLLER = 'system:serviceaccount:kubevirt:kubevirt-controller';
const SECRET = 'password: hunter2-kubevirt-vhostuser-cache-test';

/** VMI `i` as JSON text, `itemBytes` long: a vhost-user interface, and the bulk in cloud-init user data. */
function vmiMaker(itemBytes) {
  const head = (i) =>
    `{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"vm-gen-${i}","namespace":"gen","uid":"uid-gen-${i}","resourceVersion":"${1000 + i}",` +
    `"annotations":{"kubevirt.io/latest-observed-api-version":"v1","note":"${'a'.repeat(512)}"}},"spec":{"domain":{"devices":{"interfaces":[{"name":"default","masquerade":{}},` +
    `{"name":"dpdk0","binding":{"name":"vhostuser"}}]}},"networks":[{"name":"default","pod":{}},{"name":"dpdk0","multus":{"networkName":"vhostuser-network"}}],` +
    `"volumes":[{"name":"cloudinitdisk","cloudInitNoCloud":{"userData":"#cloud-config\\n${SECRET}\\n`;
  const tail = '"}}]},"status":{"phase":"Running","interfaces":[{"name":"default"}]}}';
  const fill = Math.max(0, itemBytes - head(0).length - tail.length);
  const filler = 'x'.repeat(fill);
  return (i) => `${head(i)}${filler}${tail}`;
}

function review(n) {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `virt-launcher-vm-gen-${n}-`,
      namespace: 'gen',
      labels: { 'kubevirt.io': 'virt-launcher' },
      ownerReferences: [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: `vm-gen-${n}`, uid: `uid-gen-${n}`, controller: true }],
    },
    spec: { containers: [{ name: 'compute', image: 'virt-launcher' }] },
  };
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `cache-${n}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'gen',
      operation: 'CREATE',
      userInfo: { username: CONTROLLER },
      object: pod,
    },
  });
}

function call(tls, path, body) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', path, method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, agent: false, ...tls }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', (err) => resolve({ status: 0, text: err.message }));
    req.end(body);
  });
}

/**
 * Runs the webhook against `count` generated VMIs of `itemBytes` and returns its figures.
 * @param {{ count?: number; itemBytes?: number; syncTimeoutMs?: number; say?: (line: string) => void }} options
 */
export async function runCacheMemory(options = {}) {
  const count = options.count ?? 10_000;
  const itemBytes = options.itemBytes ?? 1024 * 1024;
  const syncTimeoutMs = options.syncTimeoutMs ?? 600_000;
  const say = options.say ?? (() => {});
  const stub = new K8sStub();
  let webhook;
  try {
    stub.generate('vmi', count, vmiMaker(itemBytes));
    await stub.start();
    const started = performance.now();
    webhook = await startWebhookProcess(['--kubeconfig', await stub.kubeconfig()]);
    const { tls, logs, child } = webhook;

    // RSS while the list streams in; VmHWM keeps the peak between samples.
    const samples = [];
    const sampler = setInterval(() => {
      const m = webhook.memory();
      if (m !== undefined) samples.push(m.rss);
    }, 100);
    let synced = false;
    let lastSay = 0;
    while (!synced && performance.now() - started < syncTimeoutMs && child.exitCode === null) {
      synced = (await call(tls, '/readyz')).status === 200;
      if (!synced) await new Promise((r) => setTimeout(r, 200));
      if (performance.now() - lastSay > 5_000) {
        lastSay = performance.now();
        say(`listed ${Math.round(stub.listBytes / 1048576)} MiB, rss ${webhook.memory()?.rss.toFixed(0)} MiB`);
      }
    }
    const syncS = (performance.now() - started) / 1000;
    const atSync = webhook.memory();

    // Admissions of generated VMIs: each must be found in the cache, vhost-user, without a direct read.
    const gets = stub.count('get');
    const picks = Array.from({ length: 20 }, (_, k) => Math.floor(((k + 0.5) * count) / 20));
    let patched = 0;
    for (const n of synced ? picks : []) {
      const res = await call(tls, '/mutate', review(n));
      if (res.status === 200 && JSON.parse(res.text).response?.patch !== undefined) patched++;
    }
    await new Promise((r) => setTimeout(r, 1_000));
    clearInterval(sampler);
    const after = webhook.memory();
    const cached = logs.find((e) => e.msg === 'cache synced' && String(e.resource).startsWith('virtualmachineinstances'));
    const stderr = webhook.stderr();
    await webhook.stop();
    return {
      figures: {
        cache_vmis: count,
        cache_vmi_bytes: itemBytes,
        cache_list_streamed_mib: Math.round(stub.listBytes / 1048576),
        cache_list_pages: stub.count('list', 'vmi'),
        cache_synced: synced ? 1 : 0,
        cache_synced_objects: cached?.objects ?? 0,
        cache_sync_s: Number(syncS.toFixed(1)),
        cache_rss_peak_mib: Number((after?.peak ?? NaN).toFixed(1)),
        cache_rss_synced_mib: Number((atSync?.rss ?? NaN).toFixed(1)),
        cache_rss_after_mib: Number((after?.rss ?? NaN).toFixed(1)),
        cache_rss_samples_max_mib: Number(Math.max(0, ...samples).toFixed(1)),
        cache_memory_limit_mib: CHART_MEMORY_LIMIT_MIB,
        cache_admissions_patched: patched,
        cache_admissions_sent: synced ? picks.length : 0,
        cache_direct_reads: stub.count('get') - gets,
      },
      stderr,
    };
  } finally {
    await webhook?.stop();
    await stub.close();
  }
}

async function main() {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '10000' }, 'item-mib': { type: 'string', default: '1' } } });
  const count = Number(values.count);
  const itemMiB = Number(values['item-mib']);
  if (!(count >= 1) || !(itemMiB > 0)) throw new Error('--count takes a number of VMIs (>= 1), --item-mib the size of each in MiB (> 0)');
  const say = (line) => process.stderr.write(`${line}\n`);
  const { figures } = await runCacheMemory({ count, itemBytes: Math.round(itemMiB * 1048576), say });
  for (const [name, value] of Object.entries(figures)) process.stdout.write(`${name}: ${value}\n`);
  return figures.cache_synced === 1 && figures.cache_rss_peak_mib < CHART_MEMORY_LIMIT_MIB ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => (process.exitCode = code),
    (err) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
