// Soak of the real webhook process (dist/, `kubevirt-vhostuser webhook`) at a fixed request rate:
// its VMI lookups go to test/reliability/k8s-stub.ts over HTTPS (no API server can run here), the
// serving certificate is rotated half-way (new CA, kubelet-style `..data` swap), then SIGTERM.
// Counts failed and dropped requests, and samples the process RSS. Prints `name: value` lines.
// Usage: node bench/soak.js [--duration 60] [--rate 200] [--node-arg=--flag ...]   (npm run build first)
// --node-arg passes node flags to the webhook instead of the default, the heap node picks under
// the chart's 256Mi limit (--max-semi-space-size=1 --max-old-space-size=256).
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { makeCa, makeServerCert, serviceNames } from '../test/helpers/certs.ts';
import { K8sStub } from '../test/reliability/k8s-stub.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVICE = serviceNames('kubevirt-vhostuser-webhook', 'kubevirt');
const CONTROLLER = 'system:serviceaccount:kubevirt:kubevirt-controller';
const GET_DELAY_MS = 100; // the API's answer time for a direct read (a cache miss)
const WATCH_LAG_MS = 400; // new VMIs reach the watch cache this late, so their first pod misses
const OVERLAP_MS = 300; // how long the client keeps sending after SIGTERM
// The heap node 24 picks in a 256 MiB cgroup (the chart's memory limit): a 2 MiB young
// generation. An unconstrained host picks a far larger one, and RSS would not say much.
const CHART_HEAP_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256'];

function loadYaml(path) {
  return parseYaml(readFileSync(join(ROOT, path), 'utf8'));
}

/** A JSON AdmissionReview template for a pod; __UID__, __VMI__ and __VMIUID__ are filled per request. */
function reviewTemplate(podFile, namespace, owner) {
  const pod = loadYaml(podFile);
  if (owner) pod.metadata.ownerReferences = [{ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: '__VMI__', uid: '__VMIUID__', controller: true }];
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '__UID__',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: CONTROLLER, groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: pod,
      dryRun: false,
    },
  });
}

/** Kubernetes Secret volume layout: files reached through the `..data` symlink, swapped atomically. */
async function writeCertDir(dir, pair, generation) {
  const data = join(dir, `..gen-${generation}`);
  await mkdir(data);
  await writeFile(join(data, 'tls.crt'), pair.cert);
  await writeFile(join(data, 'tls.key'), pair.key, { mode: 0o600 });
  await symlink(`..gen-${generation}`, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  if (generation === 0) {
    await symlink('..data/tls.crt', join(dir, 'tls.crt'));
    await symlink('..data/tls.key', join(dir, 'tls.key'));
  }
}

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function percentile(sorted, p) {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Least-squares slope of (t seconds, MiB) samples, in MiB per minute. */
function slopePerMinute(samples) {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((s, [t]) => s + t, 0) / n;
  const mr = samples.reduce((s, [, r]) => s + r, 0) / n;
  const num = samples.reduce((s, [t, r]) => s + (t - mt) * (r - mr), 0);
  const den = samples.reduce((s, [t]) => s + (t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
}

/**
 * The webhook's V8 heap after a full GC, through its inspector (started with --inspect on
 * 127.0.0.1): unlike RSS, it does not grow with lazy collection, so growth means live objects.
 */
async function connectInspector(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot reach the webhook's inspector at ${url}`));
  });
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data));
    waiting.get(msg.id)?.(msg.result);
    waiting.delete(msg.id);
  };
  const send = (method) => new Promise((resolve) => (waiting.set(++id, resolve), ws.send(JSON.stringify({ id, method }))));
  return {
    async heapAfterGcMiB() {
      await send('HeapProfiler.collectGarbage');
      const usage = await send('Runtime.getHeapUsage');
      return usage.usedSize / 1048576;
    },
    close: () => ws.close(),
  };
}

/** Starts the webhook; resolves once /readyz says the caches are synced. */
async function startWebhook(certDir, kubeconfig, logs, nodeArgs) {
  const bin = join(ROOT, 'bin/kubevirt-vhostuser.js');
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npm run build first');
  const args = ['webhook', '--tls-cert', join(certDir, 'tls.crt'), '--tls-key', join(certDir, 'tls.key'), '--kubeconfig', kubeconfig];
  args.push('--listen', '127.0.0.1:0', '--tls-poll-interval-ms', '1000', '--drain-timeout-ms', '10000', '--lookup-timeout-ms', '2000');
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...nodeArgs, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let inspectorUrl;
  const inspectorSeen = new Promise((resolve) => (inspectorUrl = resolve));
  child.stderr.on('data', (d) => {
    stderr += d;
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(stderr);
    if (m) inspectorUrl(m[1]);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const port = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'serving /mutate over HTTPS') resolve(entry.port);
    });
    void exited.then((code) => reject(new Error(`webhook exited (${code}) before listening: ${stderr.trim()}`)));
  });
  return { child, port, exited, inspector: await connectInspector(await inspectorSeen) };
}

/** One HTTPS request; resolves with the status, the body and the server certificate's fingerprint. */
function call(opts, body) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, ...opts }, (res) => {
      const fingerprint = res.socket.getPeerCertificate?.().fingerprint256;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, fingerprint }));
      res.on('error', (err) => resolve({ status: 0, text: err.code ?? err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, text: err.code ?? err.message }));
    req.end(body);
  });
}

/**
 * Runs the soak and returns its figures.
 * @param {{ durationS?: number; rate?: number; nodeArgs?: string[]; say?: (line: string) => void }} options
 */
export async function runSoak(options = {}) {
  const durationS = options.durationS ?? 60;
  const rate = options.rate ?? 200;
  const nodeArgs = options.nodeArgs ?? CHART_HEAP_FLAGS;
  const say = options.say ?? (() => {});
  const work = await mkdtemp(join(tmpdir(), 'kvvu-soak-'));
  const stub = new K8sStub({ watchLagMs: WATCH_LAG_MS });
  const logs = [];
  let webhook;
  try {
    const [caA, caB] = await Promise.all([makeCa('soak-ca-a'), makeCa('soak-ca-b')]);
    const [pairA, pairB] = await Promise.all([makeServerCert(caA, SERVICE), makeServerCert(caB, SERVICE)]);
    const fingerprintB = new X509Certificate(pairB.cert).fingerprint256;
    const certDir = join(work, 'certs');
    await mkdir(certDir);
    await writeCertDir(certDir, pairA, 0);

    const trex = loadYaml('fixtures/admission-reviews/api/vmi-vm-trex-1.yaml');
    stub.put('vmi', trex);
    stub.put('nad', loadYaml('fixtures/admission-reviews/api/nad-userspace-ovs-net-1.yaml'));
    stub.faults.get = { delayMs: GET_DELAY_MS };
    await stub.start();
    webhook = await startWebhook(certDir, await stub.kubeconfig(), logs, nodeArgs);
    // The API server trusts both CAs while the certificate rotates (the chart's caBundle does).
    const tls = { port: webhook.port, ca: [caA.cert, caB.cert], servername: SERVICE[2] };
    const agent = new Agent({ keepAlive: true, maxSockets: 32, ...tls });
    for (let ready = false; !ready; ) {
      ready = (await call({ ...tls, agent: false, path: '/readyz' })).status === 200;
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }

    const templates = {
      cached: reviewTemplate('fixtures/pods/launcher-v0.53-vhostuser.yaml', 'default', false),
      sidecar: reviewTemplate('fixtures/pods/launcher-v1-binding.yaml', 'tests', false),
      miss: reviewTemplate('fixtures/pods/launcher-v0.53-vhostuser.yaml', 'default', true),
    };
    const stats = { sent: 0, ok: 0, failed: 0, misses: 0, reasons: new Map() };
    const latencies = [];
    // Latency counts after warm-up and after the first forced GC below (which pauses the process).
    let measureFrom = Infinity;
    const pending = new Set();
    const fail = (why) => {
      stats.failed++;
      stats.reasons.set(why, (stats.reasons.get(why) ?? 0) + 1);
    };

    // Requests sent after SIGTERM, on the connections the client still holds, by what became of them.
    const after = { sent: 0, served: 0, refused: 0, reset: 0, unavailable: 0, other: 0 };
    const classifyAfter = (res, ok) => {
      if (ok) after.served++;
      else if (res.status === 503) after.unavailable++;
      else if (res.text === 'ECONNREFUSED') after.refused++;
      else if (res.status === 0) after.reset++;
      else after.other++;
    };

    /** Sends one admission; a "miss" first creates its VMI, which the watch delivers late. */
    const admit = (kind, afterSigterm = false) => {
      const n = stats.sent++;
      let body = templates[kind].replace('__UID__', `soak-${n}`);
      if (kind === 'miss') {
        stats.misses++;
        const name = `vm-soak-${n}`;
        stub.put('vmi', { ...trex, metadata: { name, namespace: 'default', uid: `uid-soak-${n}` } });
        body = body.replace('__VMI__', name).replace('__VMIUID__', `uid-soak-${n}`);
        setTimeout(() => stub.remove('vmi', 'default', name), 2_000).unref();
      }
      const started = performance.now();
      const entry = { settled: false, ok: false };
      const done = call({ ...tls, agent, path: '/mutate' }, body).then((res) => {
        if (started >= measureFrom) latencies.push(performance.now() - started);
        let review;
        try {
          review = JSON.parse(res.text);
        } catch {
          review = undefined;
        }
        entry.ok = res.status === 200 && review?.response?.uid === `soak-${n}` && review.response.allowed === true && typeof review.response.patch === 'string';
        if (afterSigterm) classifyAfter(res, entry.ok);
        else if (entry.ok) stats.ok++;
        else fail(`${kind}: ${res.status} ${res.text.slice(0, 120)}`);
        entry.settled = true;
        pending.delete(entry);
      });
      entry.done = done;
      pending.add(entry);
    };
    const kinds = ['cached', 'cached', 'cached', 'sidecar', 'miss'];

    // Memory: one RSS sample a second; the first fifth of the run is warm-up.
    const rss = [];
    const t0 = performance.now();
    const sampler = setInterval(() => {
      const r = rssMiB(webhook.child.pid);
      if (r !== undefined) rss.push([(performance.now() - t0) / 1000, r]);
    }, 1_000);
    // Live heap after a forced GC at the end of warm-up, and again once the load stops.
    const heapStart = new Promise((resolve) => setTimeout(resolve, durationS * 200)).then(async () => {
      const mib = await webhook.inspector.heapAfterGcMiB();
      measureFrom = performance.now() + 500;
      return [(performance.now() - t0) / 1000, mib];
    });

    // New connections tell when the rotated certificate is being served.
    let rotatedAt;
    let rotationSeenMs;
    const prober = setInterval(async () => {
      if (rotatedAt === undefined || rotationSeenMs !== undefined) return;
      const res = await call({ ...tls, agent: false, path: '/healthz' });
      if (res.fingerprint === fingerprintB) rotationSeenMs = Math.round(performance.now() - rotatedAt);
    }, 100);

    // Open loop at a fixed rate: requests are due on the clock, whatever the answers do.
    const endAt = t0 + durationS * 1000;
    const rotateAt = t0 + (durationS * 1000) / 2;
    let due = 0;
    let last = t0;
    let k = 0;
    while (performance.now() < endAt) {
      await new Promise((r) => setTimeout(r, 10));
      const now = performance.now();
      due += ((now - last) / 1000) * rate;
      last = now;
      for (; due >= 1; due--) admit(kinds[k++ % kinds.length]);
      if (rotatedAt === undefined && now >= rotateAt) {
        rotatedAt = performance.now();
        await writeCertDir(certDir, pairB, 1);
        say(`rotated the certificate at ${((rotatedAt - t0) / 1000).toFixed(1)} s`);
      }
    }
    clearInterval(prober);
    clearInterval(sampler);
    const heapSamples = [await heapStart, [(performance.now() - t0) / 1000, await webhook.inspector.heapAfterGcMiB()]];
    webhook.inspector.close();
    const sentBeforeStop = stats.sent;

    // SIGTERM while requests are in flight: a burst of cache misses, each held by the API's answer time.
    for (let i = 0; i < 10; i++) admit('miss');
    await new Promise((r) => setTimeout(r, 20));
    const inFlight = [...pending];
    const termAt = performance.now();
    webhook.child.kill('SIGTERM');
    // A client that does not know yet keeps sending for a moment; in a cluster the preStop delay
    // takes the pod out of the Service first, so only connections already open still reach it.
    const overlapEnd = performance.now() + OVERLAP_MS;
    while (performance.now() < overlapEnd) {
      await new Promise((r) => setTimeout(r, 1_000 / rate));
      after.sent++;
      admit(kinds[k++ % kinds.length], true);
    }
    await Promise.all([...pending].map((e) => e.done));
    const exitCode = await webhook.exited;
    const drainMs = Math.round(performance.now() - termAt);
    agent.destroy();

    const elapsedS = (endAt - t0) / 1000;
    const steady = rss.filter(([t]) => t >= durationS / 5);
    const sorted = [...latencies].sort((a, b) => a - b);
    const figures = {
      soak_duration_s: durationS,
      soak_rate_target_rps: rate,
      soak_requests_sent: stats.sent - after.sent,
      soak_requests_ok: stats.ok,
      soak_requests_failed: stats.failed,
      soak_rps: Math.round(sentBeforeStop / elapsedS),
      soak_cache_miss_requests: stats.misses,
      soak_latency_p50_ms: Number(percentile(sorted, 50).toFixed(2)),
      soak_latency_p99_ms: Number(percentile(sorted, 99).toFixed(2)),
      soak_latency_max_ms: Number((sorted.at(-1) ?? 0).toFixed(2)),
      soak_cert_rotated_at_s: rotatedAt === undefined ? -1 : Number(((rotatedAt - t0) / 1000).toFixed(1)),
      soak_rotation_seen_after_ms: rotationSeenMs ?? -1,
      soak_cert_reloads_logged: logs.filter((e) => e.msg === 'certificate reloaded').length,
      soak_inflight_at_sigterm: inFlight.length,
      soak_dropped_inflight: inFlight.filter((e) => !e.ok).length,
      soak_drain_ms: drainMs,
      soak_after_sigterm_sent: after.sent,
      soak_after_sigterm_served: after.served,
      soak_after_sigterm_refused_new_connection: after.refused,
      soak_after_sigterm_reset: after.reset,
      soak_after_sigterm_503: after.unavailable,
      soak_after_sigterm_other: after.other,
      soak_exit_code: exitCode,
      soak_stopped_drained: logs.some((e) => e.msg === 'stopped' && e.drained === true) ? 1 : 0,
      soak_rss_start_mib: Number((steady[0]?.[1] ?? 0).toFixed(1)),
      soak_rss_end_mib: Number((steady.at(-1)?.[1] ?? 0).toFixed(1)),
      soak_rss_max_mib: Number(Math.max(0, ...rss.map(([, r]) => r)).toFixed(1)),
      soak_rss_growth_mib: Number(((steady.at(-1)?.[1] ?? 0) - (steady[0]?.[1] ?? 0)).toFixed(1)),
      soak_rss_slope_mib_per_min: Number(slopePerMinute(steady).toFixed(2)),
      soak_heap_after_gc_start_mib: Number((heapSamples[0]?.[1] ?? 0).toFixed(1)),
      soak_heap_after_gc_end_mib: Number((heapSamples.at(-1)?.[1] ?? 0).toFixed(1)),
      soak_heap_after_gc_growth_mib: Number(((heapSamples.at(-1)?.[1] ?? 0) - (heapSamples[0]?.[1] ?? 0)).toFixed(2)),
      soak_heap_after_gc_slope_mib_per_min: Number(slopePerMinute(heapSamples).toFixed(2)),
    };
    return { figures, failures: [...stats.reasons].map(([why, n]) => `${n} x ${why}`) };
  } finally {
    if (webhook !== undefined && webhook.child.exitCode === null) webhook.child.kill('SIGKILL');
    await stub.close();
    await rm(work, { recursive: true, force: true });
  }
}

async function main() {
  const options = { duration: { type: 'string', default: '60' }, rate: { type: 'string', default: '200' }, 'node-arg': { type: 'string', multiple: true } };
  const { values } = parseArgs({ options });
  const durationS = Number(values.duration);
  const rate = Number(values.rate);
  if (!(durationS >= 2) || !(rate > 0)) throw new Error('--duration takes seconds (>= 2), --rate requests per second (> 0)');
  const say = (line) => process.stderr.write(`${line}\n`);
  const { figures, failures } = await runSoak({ durationS, rate, say, ...(values['node-arg'] === undefined ? {} : { nodeArgs: values['node-arg'] }) });
  for (const [name, value] of Object.entries(figures)) process.stdout.write(`${name}: ${value}\n`);
  for (const f of failures.slice(0, 10)) process.stdout.write(`soak_failure: ${f}\n`);
  const clean = ['soak_requests_failed', 'soak_dropped_inflight', 'soak_after_sigterm_503', 'soak_after_sigterm_reset', 'soak_exit_code'].every((f) => figures[f] === 0);
  return clean ? 0 : 1;
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
