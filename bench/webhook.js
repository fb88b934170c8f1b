// Webhook benches over real TLS on 127.0.0.1: throughput against a bare fastify route, handler
// and end-to-end latency, and memory over 100 000 requests. Servers run in child processes; the
// load comes from this process. Returns figures; asserts nothing about time.
import { median, MIB, round, summarize } from './lib/stats.js';
import { runLoad } from './lib/load.js';
import { httpsRequest, startServer } from './lib/servers.js';

const ROUNDS = 5;
const ROUND_S = 5;
const WARMUP_S = 3;
const CONNECTIONS = 10;
const FIXED_RATE = 1000;
const FIXED_RATE_S = 10;
const E2E_S = 5;
const MEMORY_REQUESTS = 100_000;
const RSS_SAMPLE_MS = 100;

async function post(server, body) {
  return httpsRequest(server.url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

/** The comparison is only fair if both answer the same bytes, and the webhook really patches. */
async function checkSameAnswer(bare, hook, review) {
  const [a, b] = await Promise.all([post(bare, review), post(hook, review)]);
  if (a.status !== 200 || b.status !== 200) throw new Error(`status bare ${a.status}, webhook ${b.status}: ${b.body}`);
  if (a.body !== b.body) throw new Error(`bare and webhook answers differ:\n${a.body}\n${b.body}`);
  if (JSON.parse(b.body).response?.patchType !== 'JSONPatch') throw new Error(`the webhook did not patch the bench pod: ${b.body}`);
  return Buffer.byteLength(b.body);
}

/** Requests per second of one round, with the server's CPU time per request. */
async function runRound(server, review, durationS) {
  const before = await server.query('cpu');
  const load = await runLoad({ url: server.url, body: review, connections: CONNECTIONS, durationS });
  const after = await server.query('cpu');
  const cpuUs = after.user + after.system - before.user - before.system;
  return { rps: load.rps, cpuUsPerRequest: cpuUs / load.requests };
}

async function measureThroughput(bare, hook, review, say) {
  await runRound(bare, review, WARMUP_S);
  await runRound(hook, review, WARMUP_S);
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const b = await runRound(bare, review, ROUND_S);
    const w = await runRound(hook, review, ROUND_S);
    rounds.push({ bare: b, webhook: w, ratio: w.rps / b.rps });
    say(`  round ${i + 1}: bare ${b.rps.toFixed(0)} req/s, webhook ${w.rps.toFixed(0)} req/s, ratio ${(w.rps / b.rps).toFixed(3)}`);
  }
  const ratios = rounds.map((r) => r.ratio);
  return {
    figures: {
      throughput_ratio: round(median(ratios)),
      throughput_ratio_min: round(Math.min(...ratios)),
      throughput_ratio_max: round(Math.max(...ratios)),
      bare_rps: Math.round(median(rounds.map((r) => r.bare.rps))),
      webhook_rps: Math.round(median(rounds.map((r) => r.webhook.rps))),
      bare_cpu_us_per_request: round(median(rounds.map((r) => r.bare.cpuUsPerRequest)), 1),
      webhook_cpu_us_per_request: round(median(rounds.map((r) => r.webhook.cpuUsPerRequest)), 1),
      // Server CPU per request, bare over webhook: what the ratio would be if the servers alone
      // bounded throughput; steadier than requests per second on a shared machine.
      cpu_ratio: round(median(rounds.map((r) => r.bare.cpuUsPerRequest / r.webhook.cpuUsPerRequest))),
    },
    rounds,
  };
}

/** Cumulative count of the `le` bucket and the total, for patched requests, from /metrics text. */
function patchedBuckets(text, le) {
  const num = (re) => Number(re.exec(text)?.[1] ?? Number.NaN);
  return {
    le: num(new RegExp(`admission_duration_seconds_bucket\\{le="${le}",outcome="patched"\\} (\\d+)`)),
    count: num(/admission_duration_seconds_count\{outcome="patched"\} (\d+)/),
  };
}

async function scrape(hook) {
  const res = await httpsRequest(`${hook.origin}/metrics`);
  return patchedBuckets(res.body, '0.0005');
}

const ms = (v) => round(v, 3);

/** End-to-end p50/p99/max at 1 and at 10 requests in flight, named `<prefix>_c1_p50_ms` etc. */
async function measureEndToEnd(server, review, prefix) {
  const figures = {};
  for (const connections of [1, 10]) {
    const { latencies } = await runLoad({ url: server.url, body: review, connections, durationS: E2E_S, recordLatency: true });
    const s = summarize(latencies);
    Object.assign(figures, { [`${prefix}_c${connections}_p50_ms`]: ms(s.p50), [`${prefix}_c${connections}_p99_ms`]: ms(s.p99), [`${prefix}_c${connections}_max_ms`]: ms(s.max) });
  }
  return figures;
}

async function measureLatency(hook, review) {
  // Handler time at a steady rate well below saturation: no queueing, only the work itself.
  await hook.query('stats-reset');
  const before = await scrape(hook);
  const fixed = await runLoad({ url: hook.url, body: review, connections: CONNECTIONS, durationS: FIXED_RATE_S, overallRate: FIXED_RATE, recordLatency: true });
  const after = await scrape(hook);
  const { handler } = await hook.query('stats');
  const e2eFixed = summarize(fixed.latencies);
  // GC pauses and event-loop stalls of the server while the end-to-end loads run: a latency
  // outlier longer than both came from outside the server process (client, scheduler).
  await hook.query('stats-reset');
  const e2e = await measureEndToEnd(hook, review, 'e2e');
  const { gc, loopDelay } = await hook.query('stats');
  return {
    handler_rate_rps: FIXED_RATE,
    handler_samples: handler.count,
    handler_p50_ms: ms(handler.p50),
    handler_p99_ms: ms(handler.p99),
    handler_p999_ms: ms(handler.p999),
    handler_max_ms: ms(handler.max),
    // The same measurement through Prometheus: share of requests in the le=0.5ms bucket.
    metrics_handler_le_0_5ms_pct: round((100 * (after.le - before.le)) / (after.count - before.count), 2),
    e2e_fixed_p50_ms: ms(e2eFixed.p50),
    e2e_fixed_p99_ms: ms(e2eFixed.p99),
    e2e_fixed_max_ms: ms(e2eFixed.max),
    ...e2e,
    e2e_gc_max_pause_ms: ms(gc.maxMs),
    e2e_gc_max_pause_kind: gc.maxKind,
    e2e_gc_pct_of_time: round((100 * gc.totalMs) / (2 * E2E_S * 1000), 2),
    e2e_loop_delay_max_ms: ms(loopDelay.max),
  };
}

async function measureMemory(hook, review) {
  const base = await hook.query('memory', { gc: true });
  await hook.query('sample-start', { intervalMs: RSS_SAMPLE_MS });
  const load = await runLoad({ url: hook.url, body: review, connections: CONNECTIONS, amount: MEMORY_REQUESTS });
  const samples = await hook.query('sample-stop');
  const end = await hook.query('memory', { gc: true });
  const mib = (v) => round(v / MIB, 1);
  return {
    figures: {
      memory_requests: load.requests,
      rss_mib: mib(Math.max(...samples.map((x) => x.rss))),
      rss_median_mib: mib(median(samples.map((x) => x.rss))),
      rss_anon_mib: mib(Math.max(...samples.map((x) => x.anon))),
      rss_after_gc_mib: mib(end.rss),
      rss_growth_mib: mib(end.rss - base.rss),
      rss_anon_growth_mib: mib(end.anon - base.anon),
      heap_used_growth_mib: mib(end.heapUsed - base.heapUsed),
      heap_used_after_gc_mib: mib(end.heapUsed),
      young_gen_mib: mib(end.spaces.new_space ?? Number.NaN),
    },
    detail: { before: base, after: end },
  };
}

/** Runs every webhook bench; `say` prints progress lines. */
export async function benchWebhook({ cert, review, say }) {
  const bare = await startServer('bare', cert);
  const hook = await startServer('webhook', cert);
  try {
    const responseBytes = await checkSameAnswer(bare, hook, review);
    const idle = await hook.query('memory', { gc: true });
    say(`webhook: throughput, ${ROUNDS} interleaved rounds of ${ROUND_S} s, ${CONNECTIONS} connections (${Buffer.byteLength(review)} B review, ${responseBytes} B answer)`);
    const throughput = await measureThroughput(bare, hook, review, say);
    say('webhook: end to end on the bare route, for reference');
    const bareE2e = await measureEndToEnd(bare, review, 'bare_e2e');
    await bare.stop();
    say(`webhook: latency (handler at ${FIXED_RATE} req/s; end to end at 1 and 10 in flight)`);
    const latency = await measureLatency(hook, review);
    say(`webhook: memory over ${MEMORY_REQUESTS} requests`);
    const memory = await measureMemory(hook, review);
    return {
      figures: { ...throughput.figures, ...latency, ...bareE2e, ...memory.figures, idle_rss_mib: round(idle.rss / MIB, 1), idle_rss_anon_mib: round(idle.anon / MIB, 1) },
      detail: { rounds: throughput.rounds, reviewBytes: Buffer.byteLength(review), responseBytes, idle, memory: memory.detail },
    };
  } finally {
    await Promise.allSettled([bare.stop(), hook.stop()]);
  }
}
