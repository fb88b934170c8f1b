// `npm run bench`: runs the converter, start-up, webhook and memory benches on the built dist/, prints
// one `name: value` line per figure at the end, and writes them with the run's details to
// bench/results/<time>.json and bench/results/latest.json. Measures only; asserts nothing.
// Usage: node bench/run.js [converter] [rewrite-scale] [startup] [footprint] [webhook] [memory]   (all by default)
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { runBodyFlood } from './body-flood.js';
import { runCacheMemory } from './cache-memory.js';
import { benchConverter } from './converter.js';
import { loadReview, makeCertDir, ROOT } from './lib/setup.js';
import { benchRewriteScale } from './rewrite-scale.js';
import { benchSidecarFootprint } from './sidecar-footprint.js';
import { benchStartup } from './startup.js';
import { benchWebhook } from './webhook.js';
import { benchWebhookImage } from './webhook-image.js';

const PHASES = ['converter', 'rewrite-scale', 'startup', 'footprint', 'webhook', 'memory'];

function say(line) {
  process.stderr.write(`${line}\n`);
}

/** What the machine is and how busy it was before the run (other work skews every figure). */
function machine() {
  return {
    loadAverage1m: loadavg()[0],
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    platform: `${process.platform}-${process.arch}`,
  };
}

async function main(args) {
  const unknown = args.filter((a) => !PHASES.includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`error: unknown bench phase ${unknown.join(', ')}; expected some of ${PHASES.join(', ')}\n`);
    return 2;
  }
  const phases = args.length === 0 ? PHASES : args;
  const started = Date.now();
  const host = machine();
  const figures = {};
  const detail = {};
  const cert = await makeCertDir();
  try {
    if (phases.includes('converter')) {
      say('converter: convert() per interface count, 20 KB domain rewrite');
      const r = await benchConverter({ say });
      Object.assign(figures, r.figures);
      detail.converter = r.detail;
    }
    if (phases.includes('rewrite-scale')) {
      say('rewrite-scale: 10 000 interfaces on a one-line domain, 20 000 attributes on one element');
      const r = await benchRewriteScale({ say });
      Object.assign(figures, r.figures);
      detail.rewriteScale = r.detail;
    }
    if (phases.includes('startup')) {
      say('startup: spawn to /readyz 200; hook-sidecar spawn to serving');
      const r = await benchStartup({ cert, say });
      Object.assign(figures, r.figures);
      detail.startup = r.detail;
    }
    if (phases.includes('footprint')) {
      const r = await benchSidecarFootprint({ say });
      Object.assign(figures, r.figures);
      detail.footprint = r.detail;
    }
    if (phases.includes('webhook')) {
      const r = await benchWebhook({ cert, review: await loadReview(), say });
      Object.assign(figures, r.figures);
      detail.webhook = r.detail;
    }
    if (phases.includes('memory')) {
      // Hostile load on the real process: the tests in test/reliability run a tenth of the cache.
      say('memory: the webhook lists 10 000 VMIs of 1 MiB streamed by the API stub (about 90 s)');
      Object.assign(figures, (await runCacheMemory({ count: 10_000, itemBytes: 1024 * 1024, say })).figures);
      say('memory: 100 unfinished uploads of 3 MB while real reviews are sent');
      Object.assign(figures, (await runBodyFlood({ uploads: 100, uploadBytes: 3_000_000, holdMs: 4_000 })).figures);
      say('memory: the webhook as the image and the chart start it, idle and over 100 000 requests (3 starts)');
      const image = await benchWebhookImage({ cert, review: await loadReview(), runs: 3, say });
      Object.assign(figures, image.figures);
      detail.webhookImage = image.detail;
    }
  } finally {
    await cert.cleanup();
  }
  figures.bench_seconds = Math.round((Date.now() - started) / 1000);

  const report = { date: new Date(started).toISOString(), machine: { ...host, loadAverage1mAtEnd: loadavg()[0] }, phases, figures, detail };
  const dir = join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(dir, `${report.date.replaceAll(':', '-')}.json`);
  await writeFile(file, json);
  await writeFile(join(dir, 'latest.json'), json);
  say(`results: ${file}`);
  process.stdout.write(`node: ${host.node}\ncpus: ${host.cpus}\nload_average_1m: ${host.loadAverage1m}\n`);
  for (const [name, value] of Object.entries(figures)) process.stdout.write(`${name}: ${value}\n`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`error: bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
