// parsePod on the built dist/: time (p50/p99 per call) and heap allocated per call for a KubeVirt
// 1.9 launcher pod, the same pod with 256 KiB of annotations (the API server's limit) and with
// one 1 MB annotation; beside it, the pod schema with annotations checked too (what review.ts
// leaves out) and JSON.parse of the same pod, which the request's body parser pays anyway.
// Usage: node --expose-gc bench/review-parse.js   (after npm run build). Measures only.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { importDist, ROOT } from './lib/setup.js';
import { round, summarize } from './lib/stats.js';

const POD_FILE = join(ROOT, 'fixtures', 'releases', 'v1.9.0', 'launcher-pod.yaml');
const ANNOTATION_LIMIT = 256 * 1024;

/** The pod with annotations added until it is `bytes` of JSON larger. */
function withManyAnnotations(pod, bytes) {
  const p = structuredClone(pod);
  const target = JSON.stringify(p).length + bytes;
  for (let i = 0; JSON.stringify(p).length < target; i++) p.metadata.annotations[`example.com/a-${i}`] = `value-${i}-${'y'.repeat(40)}`;
  return p;
}

function withOneAnnotation(pod, bytes) {
  const p = structuredClone(pod);
  p.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] = 'x'.repeat(bytes);
  return p;
}

function timeUs(fn, runs) {
  for (let i = 0; i < Math.min(runs, 200); i++) fn();
  const samples = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    samples[i] = (performance.now() - t) * 1000;
  }
  return summarize(samples);
}

/** Heap bytes one call leaves allocated, results kept alive so that nothing is collected early. */
function allocatedBytes(fn) {
  const keep = [];
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 10; i++) keep.push(fn());
  return (process.memoryUsage().heapUsed - before) / keep.length;
}

async function main() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const { PodSchema, parsePod } = await importDist('webhook/src/admission/review.js');
  const metadata = PodSchema.shape.metadata.unwrap().unwrap();
  const withAnnotations = PodSchema.extend({ metadata: metadata.extend({ annotations: z.record(z.string(), z.string()).nullish() }).nullish() });
  const pod = parseYaml(await readFile(POD_FILE, 'utf8'));
  const cases = { launcher: pod, annotations_256k: withManyAnnotations(pod, ANNOTATION_LIMIT), annotation_1mb: withOneAnnotation(pod, 1_000_000) };
  const subjects = {
    parse_pod: (p) => () => parsePod(p),
    with_annotations: (p) => () => withAnnotations.parse(p),
    json_parse: (p) => {
      const text = JSON.stringify(p);
      return () => JSON.parse(text);
    },
  };
  for (const [name, p] of Object.entries(cases)) {
    const runs = JSON.stringify(p).length > 100_000 ? 500 : 20_000;
    process.stdout.write(`${name}_bytes: ${JSON.stringify(p).length}\n`);
    for (const [subject, make] of Object.entries(subjects)) {
      const fn = make(p);
      const t = timeUs(fn, runs);
      process.stdout.write(`${name}_${subject}_p50_us: ${round(t.p50, 1)}\n${name}_${subject}_p99_us: ${round(t.p99, 1)}\n`);
      process.stdout.write(`${name}_${subject}_kib: ${round(allocatedBytes(fn) / 1024, 1)}\n`);
    }
  }
}

await main();
