// The webhook's memory as the image and the chart start it: the Dockerfile's ENTRYPOINT and ENV,
// then the args and env of the chart's Deployment (rendered by helm with `webhook.offline`), with
// the bench's dev certificate and free ports on 127.0.0.1 in place of the Secret's files and
// 0.0.0.0. No flag of the bench's own: the one addition, in NODE_OPTIONS, is the old-space size
// node derives from the chart's 256Mi memory limit (heap_size_limit 259 MiB in a 256 MiB cgroup),
// which would need root to reproduce with a cgroup; flags the image sets itself come later on the
// command line and win. /tmp is a fresh directory, as the pod's emptyDir is. RSS is read from
// /proc 3 s after /readyz answers (`_idle_`) and at 12 s (`_idle_reduced_`), after V8's memory
// reducer ran, as in a pod that waits for its first review; then 100 000 admission requests (10
// in flight, keep-alive TLS, the bench review) are sent while RSS is sampled every 100 ms.
// `_load_` is the median of the samples of the second half. Returns `webhook_image_*` figures.
// Usage: node bench/webhook-image.js [--runs N]   (npm run build first)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chartWebhookContainer, imageCommand } from './lib/image.js';
import { runLoad } from './lib/load.js';
import { procStatus } from './lib/proc.js';
import { httpsRequest } from './lib/servers.js';
import { loadReview, makeCertDir } from './lib/setup.js';
import { median, round } from './lib/stats.js';

const REQUESTS = 100_000;
const CONNECTIONS = 10;
const SAMPLE_MS = 100;
/** Time after /readyz answers before idle RSS is read: start-up's garbage collected, timers armed. */
const IDLE_SETTLE_MS = 3_000;
/** V8's memory reducer shrinks the heap of a process that stopped allocating 8 s after; read again after it. */
const IDLE_REDUCED_MS = 12_000;
const START_TIMEOUT_MS = 30_000;
/** What node 24 derives from the chart's resources.limits.memory (256Mi); see lib/servers.js. */
export const CGROUP_HEAP_FLAG = '--max-old-space-size=256';

/** utime + stime of a process in ms (fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * The command line and env the image and the chart give the webhook, with `cert`'s files and
 * the given ports: ENTRYPOINT (node and its flags, bin), then the Deployment's args.
 */
export async function imageWebhookCommand({ cert, port, metricsPort }) {
  const image = imageCommand();
  const chart = await chartWebhookContainer({ 'webhook.offline': true });
  const args = chart.args.map((a) => {
    if (a.startsWith('--listen=')) return `--listen=127.0.0.1:${port}`;
    if (a.startsWith('--metrics-listen=')) return `--metrics-listen=127.0.0.1:${metricsPort}`;
    if (a.startsWith('--tls-cert=')) return `--tls-cert=${cert.certFile}`;
    if (a.startsWith('--tls-key=')) return `--tls-key=${cert.keyFile}`;
    return a;
  });
  if (!args.includes('--offline')) throw new Error('the chart rendered with webhook.offline=true has no --offline');
  return { args: [...image.entrypoint, ...args], env: { ...image.env, ...chart.env }, limits: chart.resources.limits ?? {} };
}

/** One start of the webhook as the image starts it, idle, then under the load; its figures. */
export async function runImageWebhook({ cert, review, nodeFlags = [], extraEnv = {}, say = () => {} }) {
  const port = await freePort();
  const metricsPort = await freePort();
  const command = await imageWebhookCommand({ cert, port, metricsPort });
  // Flags to try (BENCH_NODE_FLAGS): after the ENTRYPOINT's own, before bin/.
  const bin = command.args.findIndex((a) => a.endsWith('kubevirt-vhostuser.js'));
  command.args.splice(bin, 0, ...nodeFlags);
  const tmp = await mkdtemp(join(tmpdir(), 'kvvu-image-tmp-'));
  const env = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: tmp, TMPDIR: tmp, NODE_OPTIONS: CGROUP_HEAP_FLAG, ...command.env, ...extraEnv };
  // stdout (one JSON line per admission) goes to /dev/null, as cheap as a log collector can be.
  const child = spawn(process.execPath, command.args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const origin = `https://127.0.0.1:${port}`;
  try {
    const started = performance.now();
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`webhook exited (${await exited}) before ready: ${stderr.trim()}`);
      if (performance.now() - started > START_TIMEOUT_MS) throw new Error(`webhook not ready within ${START_TIMEOUT_MS} ms: ${stderr.trim()}`);
      const ok = await httpsRequest(`${origin}/readyz`, { timeoutMs: 1_000 }).then((r) => r.status === 200, () => false);
      if (ok) break;
      await sleep(20);
    }
    const readyMs = performance.now() - started;
    await sleep(IDLE_SETTLE_MS);
    const idle = procStatus(child.pid);
    await sleep(IDLE_REDUCED_MS - IDLE_SETTLE_MS);
    const reduced = procStatus(child.pid);
    const samples = [];
    const sampler = setInterval(() => {
      const m = procStatus(child.pid);
      if (m !== undefined) samples.push(m);
    }, SAMPLE_MS);
    const cpuBefore = cpuMs(child.pid);
    const load = await runLoad({ url: `${origin}/mutate`, body: review, connections: CONNECTIONS, amount: REQUESTS });
    const cpuUsed = cpuMs(child.pid) - cpuBefore;
    clearInterval(sampler);
    const end = procStatus(child.pid);
    await sleep(IDLE_SETTLE_MS);
    const after = procStatus(child.pid);
    const second = samples.slice(Math.floor(samples.length / 2));
    const mib = (v) => round(v / 1048576, 1);
    const figures = {
      webhook_image_ready_ms: Math.round(readyMs),
      webhook_image_idle_rss_mib: mib(idle.rss),
      webhook_image_idle_anon_mib: mib(idle.anon),
      webhook_image_idle_reduced_rss_mib: mib(reduced.rss),
      webhook_image_idle_reduced_anon_mib: mib(reduced.anon),
      webhook_image_load_rss_mib: mib(median(second.map((s) => s.rss))),
      webhook_image_load_anon_mib: mib(median(second.map((s) => s.anon))),
      webhook_image_load_peak_rss_mib: mib(end.hwm),
      webhook_image_load_peak_anon_mib: mib(Math.max(...samples.map((s) => s.anon))),
      webhook_image_after_load_rss_mib: mib(after.rss),
      webhook_image_after_load_anon_mib: mib(after.anon),
      webhook_image_load_requests: load.requests,
      webhook_image_load_rps: Math.round(load.rps),
      webhook_image_cpu_us_per_request: Math.round((cpuUsed * 1000) / load.requests),
    };
    say(`webhook image: idle ${figures.webhook_image_idle_rss_mib} MiB (anon ${figures.webhook_image_idle_anon_mib}), load ${figures.webhook_image_load_rss_mib} MiB (anon ${figures.webhook_image_load_anon_mib}), peak ${figures.webhook_image_load_peak_rss_mib}, ${figures.webhook_image_load_rps} req/s`);
    return { figures, detail: { args: command.args, env, limits: command.limits, idle, reduced, end, after, samples: samples.length } };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `runs` starts, one after the other; figures of the median run by steady RSS under load, with the range of each. */
export async function benchWebhookImage({ cert, review, runs = 2, say = () => {} }) {
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await runImageWebhook({ cert, review, nodeFlags, say }));
  const byLoad = [...all].sort((a, b) => a.figures.webhook_image_load_rss_mib - b.figures.webhook_image_load_rss_mib);
  const figures = { ...byLoad[Math.floor((byLoad.length - 1) / 2)].figures, webhook_image_runs: runs };
  const ready = all.map((r) => r.figures.webhook_image_ready_ms);
  figures.webhook_image_ready_range_ms = `${Math.min(...ready)}-${Math.max(...ready)}`;
  for (const name of ['webhook_image_idle_rss_mib', 'webhook_image_idle_reduced_rss_mib', 'webhook_image_idle_anon_mib', 'webhook_image_load_rss_mib', 'webhook_image_load_anon_mib', 'webhook_image_load_peak_rss_mib']) {
    const v = all.map((r) => r.figures[name]);
    figures[`${name.replace(/_mib$/, '')}_range_mib`] = `${Math.min(...v)}-${Math.max(...v)}`;
  }
  return { figures, detail: all.map((r) => r.detail) };
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
  const cert = await makeCertDir();
  try {
    const say = (line) => process.stderr.write(`${line}\n`);
    const { figures } = await benchWebhookImage({ cert, review: await loadReview(), runs: Number(values.runs), say });
    for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k}: ${v}\n`);
  } finally {
    await cert.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
