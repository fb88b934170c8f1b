// Bench server process (forked with IPC). Both kinds are the real webhook app from buildApp
// (offline, production log level, log lines to stdout = /dev/null, TLS on 127.0.0.1), so they
// share every server setting. `webhook` is loaded on POST /mutate; `bare` adds POST /bare, which
// lets fastify parse the same body and answers the exact bytes /mutate would, doing nothing else.
// Answers IPC queries on memory, CPU, GC and the handler-time histogram.
// Usage: server-child.js bare|webhook CERT KEY
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { importDist, loadReview } from './setup.js';

const [kind, certFile, keyFile] = process.argv.slice(2);

/** Handler time as the route itself measures it, recorded in ns at full resolution. */
const handlerNs = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
// Off until the first stats-reset: the throughput rounds come before and never read it, and its
// native record() (about 0.5 µs in profiles) would be charged to the webhook alone.
let recordHandler = false;
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
const gcPauses = { count: 0, totalMs: 0, maxMs: 0, maxKind: '' };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcPauses.count++;
    gcPauses.totalMs += e.duration;
    if (e.duration > gcPauses.maxMs) Object.assign(gcPauses, { maxMs: e.duration, maxKind: GC_KINDS[e.detail?.kind] ?? 'other' });
  }
}).observe({ entryTypes: ['gc'] });

async function buildServer(pair) {
  const { buildApp } = await importDist('webhook/src/app.js');
  const { parseWebhookArgs } = await importDist('webhook/src/config.js');
  const { offlineLookups } = await importDist('webhook/src/k8s/sources.js');
  const { createMetrics } = await importDist('webhook/src/metrics.js');
  const config = parseWebhookArgs(['--listen', '127.0.0.1:0', '--offline', '--tls-cert', certFile, '--tls-key', keyFile]);
  const metrics = createMetrics();
  // The route records its own duration once per request; keep a fine-grained copy beside
  // the Prometheus buckets.
  const record = metrics.recordRequest.bind(metrics);
  metrics.recordRequest = (outcome, seconds) => {
    if (recordHandler) handlerNs.record(Math.max(1, Math.round(seconds * 1e9)));
    return record(outcome, seconds);
  };
  return buildApp(config, { lookups: offlineLookups(), metrics, https: pair });
}

/** Registers POST /bare on `app`; call `answer.set()` with the bytes before serving. */
function addBareRoute(app) {
  const answer = { body: '', type: '' };
  app.post('/bare', async (request, reply) => {
    // Read the parsed body as the webhook does, so the JSON parse cannot be optimised away.
    if (typeof request.body?.request?.uid !== 'string') return reply.code(400).send({ message: 'no uid' });
    return reply.type(answer.type).send(answer.body);
  });
  return answer;
}

function memory() {
  const m = process.memoryUsage();
  // Committed size of each V8 heap space: tells young-generation growth from old-space growth.
  const spaces = Object.fromEntries(getHeapSpaceStatistics().filter((s) => s.space_size > 0).map((s) => [s.space_name, s.space_size]));
  return { rss: m.rss, anon: anonymousBytes(), heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, spaces };
}

let smapsReadable = true;
/** Private anonymous memory (heap, malloc, buffers): RSS without the node binary's shared code pages. */
function anonymousBytes() {
  if (!smapsReadable) return Number.NaN;
  try {
    const text = readFileSync('/proc/self/smaps_rollup');
    return Number(/^Anonymous:\s+(\d+) kB/m.exec(text)?.[1] ?? Number.NaN) * 1024;
  } catch {
    smapsReadable = false;
    return Number.NaN;
  }
}

let samples = [];
let sampler;
const commands = {
  memory: ({ gc }) => {
    if (gc) {
      // Twice: the first pass may only queue finalizers that free more on the second.
      globalThis.gc();
      globalThis.gc();
    }
    return memory();
  },
  cpu: () => process.cpuUsage(),
  'stats-reset': () => {
    recordHandler = true;
    handlerNs.reset();
    loopDelay.reset();
    Object.assign(gcPauses, { count: 0, totalMs: 0, maxMs: 0, maxKind: '' });
  },
  stats: () => {
    const at = (p) => handlerNs.percentile(p) / 1e6;
    return {
      handler: { count: handlerNs.count, p50: at(50), p99: at(99), p999: at(99.9), max: handlerNs.max / 1e6 },
      gc: { ...gcPauses },
      loopDelay: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    };
  },
  'sample-start': ({ intervalMs }) => {
    samples = [];
    clearInterval(sampler);
    sampler = setInterval(() => samples.push({ rss: process.memoryUsage.rss(), anon: anonymousBytes() }), intervalMs);
  },
  'sample-stop': () => {
    clearInterval(sampler);
    return samples;
  },
};

try {
  if (typeof globalThis.gc !== 'function') throw new Error('start with --expose-gc');
  if (kind !== 'webhook' && kind !== 'bare') throw new Error(`unknown server kind ${JSON.stringify(kind)}: expected bare or webhook`);
  const pair = { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
  const app = await buildServer(pair);
  const bare = kind === 'bare' ? addBareRoute(app) : undefined;
  if (bare !== undefined) {
    // The webhook's own answer to the bench review, from this very app, before it listens.
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: await loadReview(), headers: { 'content-type': 'application/json' } });
    bare.body = res.body;
    bare.type = res.headers['content-type'];
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  loopDelay.enable();
  process.on('message', async ({ id, cmd, ...args }) => {
    const run = commands[cmd];
    process.send(run === undefined ? { id, error: `unknown command ${cmd}` } : { id, result: await run(args) });
  });
  // The parent going away (bench done or crashed) ends this server.
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
  process.send({ ready: true, port: app.server.address().port, path: kind === 'bare' ? '/bare' : '/mutate' });
} catch (err) {
  process.send?.({ ready: false, error: err instanceof Error ? err.message : String(err) });
  process.exitCode = 1;
}
