// The hook sidecar's footprint in the limits KubeVirt gives the sidecars of dedicated-CPU and
// Guaranteed VMIs (200m CPU, 64M memory): the sidecar is started exactly as the image starts it
// (ENTRYPOINT and CMD of the Dockerfile, its ENV), from a private copy of the node binary, in a
// memory cgroup of 64 000 000 bytes, after the page cache was dropped, so that the binary's and
// the modules' pages are read from disk and charged to that cgroup as on a node where this is the
// first sidecar. A bare node:http2 server on a unix socket is started the same way in the same
// run: the floor. The cold starts run at the kernel's default read-ahead (128 KiB) on the device
// that holds the copy, set for them and put back, and again at the machine's own when it differs.
// Then, with the cache warm, the same limit plus a CFS quota of 20 ms per 100 ms (and the bare
// server again, warm, for the idle RSS ratio: in the cold cgroup the kernel evicts
// mapped pages of both at random). Each start is followed by Info and 1000 OnDefineDomain calls
// back to back (a ~20 KB domain, four vhost-user interfaces) over the real socket from a grpc-js
// client in this process; under the quota first 100 calls 100 ms apart, as virt-launcher makes
// its few calls per VM. Needs root (cgroups, drop_caches, a mount namespace for the shared
// dir). Returns figures; asserts nothing.
import { spawn } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { cgroupVersion, createCgroup, DEFAULT_READ_AHEAD_KB, dropCaches, readAhead } from './lib/cgroup.js';
import { generateCase, loadBigDomain } from './converter.js';
import { imageCommand } from './lib/image.js';
import { procStatus } from './lib/proc.js';
import { importDist, ROOT } from './lib/setup.js';
import { MIB, round, summarize } from './lib/stats.js';

/** KubeVirt's sidecar limits for dedicated-CPU / Guaranteed VMIs (`64M`, `200m`). */
const MEMORY_LIMIT_BYTES = 64_000_000;
const CPU_QUOTA = { quotaUs: 20_000, periodUs: 100_000 };
const CALLS = 1000;
const INTERFACES = 4;
const RUNS = 2;
const CPU_RUNS = 3;
/** Time left for a start before it counts as failed (the target is 10 s). */
const GIVE_UP_MS = 60_000;
const IDLE_SETTLE_MS = 1500;
/** The calls of a cold run stop after this long (the cgroup may thrash); those not made count as unanswered. */
const COLD_CALLS_GIVE_UP_MS = 60_000;
const CALLS_GIVE_UP_MS = 600_000;
/** Under the CPU quota, calls one CFS period apart, as virt-launcher makes them (a few per VM), besides the back-to-back run. */
const PACED_CALLS = 100;
const PACE_MS = 100;
const SAMPLE_MS = 10;
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
/** Where the shared dir lies in the launcher pod (the webhook mounts shared-dir there). */
const SHARED_DIR = '/var/lib/cni/usrcni';

/** A copy of the node binary only our children map, on a disk filesystem, so that drop_caches really drops it. */
function privateNode(dir) {
  const fs = statfsSync(dir);
  if (fs.type === TMPFS_MAGIC || fs.type === RAMFS_MAGIC) throw new Error(`${dir} is in memory: its pages cannot be dropped`);
  const path = join(dir, 'node');
  copyFileSync(process.execPath, path);
  chmodSync(path, 0o755);
  return path;
}

/** CPU time of all the process's threads (the quota counts them all), in ms, from their schedstat (ns). */
function cpuMs(pid) {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return Number.NaN;
  }
}

function connectable(path) {
  return new Promise((resolve) => {
    const c = createConnection({ path });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

/**
 * Spawns `node args` in the cgroup (a shell enters it, then execs), in a private mount namespace
 * with a tmpfs shared dir as in the pod; resolves once the unix socket accepts, with the time.
 */
async function startIn(cg, node, args, env, socketPath) {
  const enter = cg.procsFiles.map((f) => `echo $$ > ${f}`).join(' && ');
  const script = `${enter} && exec unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /var/lib && mkdir -p ${SHARED_DIR} && exec "$0" "$@"' "$@"`;
  const started = performance.now();
  const child = spawn('sh', ['-c', script, 'sh', node, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  let exit;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exit = code ?? signal))));
  const stop = async () => {
    if (exit === undefined) child.kill('SIGKILL');
    await exited;
  };
  while (performance.now() - started < GIVE_UP_MS) {
    if (exit !== undefined) throw new Error(`exited with ${exit} before listening: ${stderr.trim()}`);
    if (await connectable(socketPath)) return { pid: child.pid, listenMs: performance.now() - started, stop, exited: () => exit, stderr: () => stderr };
    await sleep(5);
  }
  await stop();
  return { pid: child.pid, listenMs: Number.NaN, stop, exited: () => exit, stderr: () => stderr };
}

function hookClients(socketPath) {
  const protoDir = join(ROOT, 'proto');
  const files = ['kubevirt/hooks/info/api_info.proto', 'kubevirt/hooks/v1alpha3/api_v1alpha3.proto'];
  const pkg = loadPackageDefinition(loadSync(files, { includeDirs: [protoDir], keepCase: true }));
  const target = `unix://${socketPath}`;
  const info = new pkg.kubevirt.hooks.info.Info(target, credentials.createInsecure());
  const callbacks = new pkg.kubevirt.hooks.v1alpha3.Callbacks(target, credentials.createInsecure());
  const unary = (client, method, req) =>
    new Promise((resolve, reject) => client[method](req, { deadline: Date.now() + 60_000 }, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    info: () => unary(info, 'Info', {}),
    define: (req) => unary(callbacks, 'OnDefineDomain', req),
    close: () => (info.close(), callbacks.close()),
  };
}

/** Info once, then CALLS OnDefineDomain calls one after another; anonymous memory sampled throughout. */
async function drive(running, socketPath, request, { calls = CALLS, paceMs = 0, giveUpMs = CALLS_GIVE_UP_MS } = {}) {
  const client = hookClients(socketPath);
  const latencies = [];
  const cpu = [];
  let answered = 0;
  let failed = 0;
  let firstError;
  let peakAnon = 0;
  const sampler = setInterval(() => {
    const s = procStatus(running.pid);
    if (s !== undefined && s.anon > peakAnon) peakAnon = s.anon;
  }, SAMPLE_MS);
  try {
    await client.info();
    const until = performance.now() + giveUpMs;
    for (let i = 0; i < calls && performance.now() < until; i++) {
      if (paceMs > 0) await sleep(paceMs);
      const t = performance.now();
      const c = cpuMs(running.pid);
      try {
        const res = await client.define(request);
        latencies.push(performance.now() - t);
        cpu.push(cpuMs(running.pid) - c);
        if (i === 0) {
          const vhost = (res.domainXML.toString('utf8').match(/<interface type=["']vhostuser["']/g) ?? []).length;
          if (vhost !== INTERFACES) throw new Error(`the answer has ${vhost} vhost-user interfaces, not ${INTERFACES}`);
        }
        answered++;
      } catch (err) {
        failed++;
        firstError ??= err.message;
        if (running.exited() !== undefined) break;
      }
    }
  } finally {
    clearInterval(sampler);
    client.close();
  }
  const s = procStatus(running.pid);
  if (s !== undefined && s.anon > peakAnon) peakAnon = s.anon;
  return { answered, failed, firstError, firstMs: latencies[0] ?? Number.NaN, firstCpuMs: cpu[0] ?? Number.NaN, latency: summarize(latencies), cpu: summarize(cpu.filter(Number.isFinite)), peakAnon, after: s };
}

/** One start in a fresh cgroup: time to listen, idle memory, then the calls (when `request` is given). */
async function runOnce({ node, args, env, cold, cpu, request, paced, label, say }) {
  const dir = await mkdtemp(join(tmpdir(), 'kvfp-'));
  const socketPath = join(dir, 'hook.sock');
  const cg = createCgroup(`kvvu-footprint-${process.pid}-${label}`, { memoryBytes: MEMORY_LIMIT_BYTES, cpu });
  let running;
  try {
    if (cold) dropCaches();
    running = await startIn(cg, node, [...args(socketPath)], env, socketPath);
    const out = { listenMs: running.listenMs, listened: Number.isFinite(running.listenMs) };
    if (!out.listened) {
      Object.assign(out, { cgroup: cg.stats(), stderr: running.stderr().slice(-500) });
      say(`  ${label}: not listening within ${GIVE_UP_MS} ms (major faults ${out.cgroup.majorFaults})`);
      return out;
    }
    const atListen = cg.stats();
    await sleep(IDLE_SETTLE_MS);
    out.idle = procStatus(running.pid);
    out.cgroupIdle = cg.stats();
    out.majorFaultsToListen = atListen.majorFaults;
    if (request !== undefined) {
      if (paced) out.paced = await drive(running, socketPath, request, { calls: PACED_CALLS, paceMs: PACE_MS });
      out.calls = await drive(running, socketPath, request, { giveUpMs: cold ? COLD_CALLS_GIVE_UP_MS : CALLS_GIVE_UP_MS });
      out.cgroupEnd = cg.stats();
      out.alive = running.exited() === undefined;
    }
    out.oomKills = cg.stats().oomKills;
    const mib = (v) => (v / MIB).toFixed(1);
    say(
      `  ${label}: listening after ${out.listenMs.toFixed(0)} ms (${out.majorFaultsToListen} major faults), idle RSS ${mib(out.idle.rss)} MiB (anon ${mib(out.idle.anon)})` +
        (out.paced === undefined ? '' : `, paced p99 ${out.paced.latency.p99.toFixed(1)} ms`) +
        (out.calls === undefined ? '' : `, ${out.calls.answered}/${CALLS} answered, p99 ${out.calls.latency.p99.toFixed(1)} ms (CPU per call p50 ${out.calls.cpu.p50.toFixed(1)}, p99 ${out.calls.cpu.p99.toFixed(1)} ms), peak anon ${mib(out.calls.peakAnon)} MiB, OOM kills ${out.oomKills}`),
    );
    return out;
  } finally {
    await running?.stop();
    await cg.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The request virt-launcher sends for a VMI with four vhost-user interfaces, and its podinfo directory. */
async function defineCase(dir) {
  const { hashedPodInterfaceName, formatDownwardApiFile } = await importDist('converter/src/index.js');
  const { vmi, annotations } = generateCase(INTERFACES, hashedPodInterfaceName);
  const podinfo = join(dir, 'podinfo');
  mkdirSync(podinfo);
  writeFileSync(join(podinfo, 'annotations'), formatDownwardApiFile(Object.fromEntries(annotations)));
  const domainXml = await loadBigDomain();
  return { podinfo, request: { domainXML: Buffer.from(domainXml), vmi: Buffer.from(JSON.stringify(vmi)) }, domainBytes: Buffer.byteLength(domainXml) };
}

const range = (xs, f) => {
  const v = xs.map(f).filter(Number.isFinite);
  return v.length === 0 ? [Number.NaN, Number.NaN] : [Math.min(...v), Math.max(...v)];
};

const worst = (runs, f) => Math.max(...runs.map(f).filter(Number.isFinite));

/** The figures of one set of cold starts (`prefix_cold_*`, `prefix_bare_cold_*`). */
function coldFigures(prefix, { bareRuns, coldRuns }) {
  const listened = coldRuns.filter((r) => r.listened);
  return {
    [`${prefix}_bare_cold_listen_ms`]: Math.round(worst(bareRuns, (r) => r.listenMs)),
    [`${prefix}_bare_cold_listen_min_ms`]: Math.round(range(bareRuns, (r) => r.listenMs)[0]),
    [`${prefix}_cold_listen_ms`]: Math.round(worst(coldRuns, (r) => (r.listened ? r.listenMs : GIVE_UP_MS))),
    [`${prefix}_cold_listen_min_ms`]: Math.round(range(coldRuns, (r) => r.listenMs)[0]),
    [`${prefix}_cold_listened`]: `${listened.length}/${coldRuns.length}`,
    [`${prefix}_cold_major_faults`]: worst(coldRuns, (r) => r.majorFaultsToListen ?? r.cgroup?.majorFaults),
    [`${prefix}_cold_calls_answered_in_60s`]: Math.min(...coldRuns.map((r) => r.calls?.answered ?? 0)),
    [`${prefix}_cold_p50_ms`]: round(worst(listened, (r) => r.calls?.latency.p50), 2),
    [`${prefix}_cold_p99_ms`]: round(worst(listened, (r) => r.calls?.latency.p99), 2),
  };
}

export async function benchSidecarFootprint({ say, runs = RUNS, cpuStarts = CPU_RUNS }) {
  if (process.getuid?.() !== 0 || cgroupVersion() === undefined) {
    say('sidecar footprint: skipped (needs root and a cgroup memory controller)');
    return { figures: { footprint_skipped: 1 }, detail: { skipped: true } };
  }
  const work = join(ROOT, '.cache', 'bench', `footprint-${process.pid}`);
  mkdirSync(work, { recursive: true });
  try {
    const node = privateNode(work);
    const { podinfo, request, domainBytes } = await defineCase(work);
    const image = imageCommand();
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', ...image.env };
    const sidecar = { node, env, args: (socket) => [...image.args, '--socket', socket, '--podinfo', podinfo] };
    const bare = { node, env, args: (socket) => [join(ROOT, 'bench', 'lib', 'bare-http2.js'), socket] };
    say(`sidecar footprint: cgroup ${cgroupVersion()}, memory limit ${MEMORY_LIMIT_BYTES} B, node ${image.args.filter((a) => a.startsWith('-')).join(' ') || '(no flags)'}; ${CALLS} OnDefineDomain of ${domainBytes} B, ${INTERFACES} interfaces`);
    // Cold starts at the kernel's default read-ahead, as on most nodes, and at this machine's own
    // when it differs: each page fault on the binary then reads that much more into the cgroup.
    const device = readAhead(work);
    const cold = async (tag) => {
      const bareRuns = [];
      const sidecarRuns = [];
      for (let i = 0; i < runs; i++) {
        bareRuns.push(await runOnce({ ...bare, cold: true, label: `bare-${tag}-${i}`, say }));
        sidecarRuns.push(await runOnce({ ...sidecar, cold: true, request, label: `cold-${tag}-${i}`, say }));
      }
      return { bareRuns, coldRuns: sidecarRuns };
    };
    let atDefault;
    let atHost;
    if (device === undefined) {
      say(`sidecar footprint: ${work} is on no block device; cold starts at whatever read-ahead applies`);
      atDefault = await cold('ra');
    } else {
      say(`sidecar footprint: cold starts with read-ahead ${DEFAULT_READ_AHEAD_KB} KiB (${device.file}; this machine: ${device.kb} KiB)`);
      try {
        device.set(DEFAULT_READ_AHEAD_KB);
        atDefault = await cold(`ra${DEFAULT_READ_AHEAD_KB}`);
      } finally {
        device.set(device.kb);
      }
      if (device.kb !== DEFAULT_READ_AHEAD_KB) {
        say(`sidecar footprint: cold starts with this machine's read-ahead, ${device.kb} KiB`);
        atHost = await cold(`ra${device.kb}`);
      }
    }
    say(`sidecar footprint: warm cache, CPU quota ${CPU_QUOTA.quotaUs / 1000} ms per ${CPU_QUOTA.periodUs / 1000} ms`);
    const cpuRuns = [];
    const warmBare = [];
    for (let i = 0; i < cpuStarts; i++) {
      warmBare.push(await runOnce({ ...bare, cold: false, label: `warm-bare-${i}`, say }));
      cpuRuns.push(await runOnce({ ...sidecar, cold: false, cpu: CPU_QUOTA, request, paced: true, label: `cpu-${i}`, say }));
    }

    const mib = (v) => round(v / MIB, 1);
    const mean = (runs, f) => {
      const v = runs.map(f).filter(Number.isFinite);
      return v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length;
    };
    // Idle RSS is compared with the page cache warm and charged elsewhere: in the cold cgroup the
    // kernel evicts mapped pages of the binary from both processes, by chance, and RSS says little.
    const warmBareRss = mean(warmBare, (r) => r.idle?.rss);
    const [cpuListenMin, cpuListenMax] = range(cpuRuns, (r) => r.listenMs);
    const allRuns = [...atDefault.coldRuns, ...(atHost?.coldRuns ?? []), ...cpuRuns];
    const figures = {
      footprint_cgroup: cgroupVersion(),
      footprint_read_ahead_kb: device?.kb ?? 'unknown',
      ...coldFigures('footprint', atDefault),
      ...(atHost === undefined ? {} : coldFigures('footprint_host_ra', atHost)),
      footprint_bare_idle_rss_mib: mib(warmBareRss),
      footprint_bare_idle_anon_mib: mib(mean(warmBare, (r) => r.idle?.anon)),
      footprint_idle_rss_mib: mib(worst(cpuRuns, (r) => r.idle?.rss)),
      footprint_idle_rss_vs_bare: round(worst(cpuRuns, (r) => r.idle?.rss) / warmBareRss, 2),
      footprint_idle_anon_mib: mib(worst(allRuns, (r) => r.idle?.anon)),
      footprint_after_calls_anon_mib: mib(worst(allRuns, (r) => r.calls?.after?.anon)),
      footprint_peak_anon_mib: mib(worst(allRuns, (r) => r.calls?.peakAnon)),
      footprint_cgroup_peak_mib: mib(worst(allRuns, (r) => r.cgroupEnd?.peak)),
      footprint_calls: CALLS,
      footprint_calls_answered_min: Math.min(...cpuRuns.map((r) => r.calls?.answered ?? 0)),
      footprint_calls_failed: allRuns.reduce((n, r) => n + (r.calls?.failed ?? 0) + (r.paced?.failed ?? 0), 0),
      footprint_oom_kills: allRuns.reduce((n, r) => n + (r.oomKills ?? r.cgroup?.oomKills ?? 0), 0),
      footprint_cpu_listen_ms: Math.round(cpuListenMax),
      footprint_cpu_listen_min_ms: Math.round(cpuListenMin),
      footprint_cpu_first_define_ms: round(worst(cpuRuns, (r) => r.paced?.firstMs), 2),
      footprint_cpu_first_define_cpu_ms: round(worst(cpuRuns, (r) => r.paced?.firstCpuMs), 2),
      footprint_define_cpu_p50_ms: round(worst(cpuRuns, (r) => r.calls?.cpu.p50), 2),
      footprint_define_cpu_p99_ms: round(worst(cpuRuns, (r) => r.calls?.cpu.p99), 2),
      footprint_cpu_paced_p50_ms: round(worst(cpuRuns, (r) => r.paced?.latency.p50), 2),
      footprint_cpu_paced_p99_ms: round(worst(cpuRuns, (r) => r.paced?.latency.p99), 2),
      footprint_cpu_back_to_back_p50_ms: round(worst(cpuRuns, (r) => r.calls?.latency.p50), 2),
      footprint_cpu_back_to_back_p99_ms: round(worst(cpuRuns, (r) => r.calls?.latency.p99), 2),
    };
    return { figures, detail: { image, domainBytes, readAheadKb: device?.kb, atDefault, atHost, warmBare, cpuRuns } };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
