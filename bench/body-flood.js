// Unfinished uploads against the real webhook process (dist/, `--offline`, the heap node picks
// under the chart's 256 MiB limit) over HTTPS on 127.0.0.1: `--uploads` clients each start a
// `--upload-bytes` body (half with a Content-Length, half chunked), send all of it but the last
// few KB as fast as the server reads, then stall. Anyone on the pod network can do this. Meanwhile
// a well-behaved client sends real AdmissionReviews. Measures the webhook's peak RSS (VmHWM), what
// became of the uploads and of the reviews, and prints `name: value` lines. Stops by itself.
// Usage: node bench/body-flood.js [--uploads 100] [--upload-bytes 3000000] [--hold-ms 4000]   (npm run build first)
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/setup.js';
import { CHART_MEMORY_LIMIT_MIB, startWebhookProcess } from './lib/webhook-process.js';

export { CHART_MEMORY_LIMIT_MIB };
/** Bytes each upload keeps back, so that its body never completes. */
const HELD_BACK = 4096;
const CHUNK = 64 * 1024;

function review() {
  return readFileSync(join(ROOT, 'fixtures/admission-reviews/create-v1-binding.json'), 'utf8');
}

/** One upload that never finishes; resolves with what became of it once the socket closes. */
function upload(tls, index, bytes, signal) {
  const chunked = index % 2 === 1;
  return new Promise((resolve) => {
    let answer = '';
    let sent = 0;
    let settled = false;
    const socket = connect({ host: '127.0.0.1', ...tls }, () => {
      const head = chunked
        ? 'POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'
        : `POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`;
      socket.write(head);
      const piece = Buffer.alloc(CHUNK, 0x20); // white space: valid JSON padding, were it ever parsed
      const framed = chunked ? Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
      const pump = () => {
        while (!socket.destroyed && sent + CHUNK <= bytes - HELD_BACK) {
          sent += CHUNK;
          if (!socket.write(framed)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    const done = (how) => {
      if (settled) return;
      settled = true;
      resolve({ how, sent, status: /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] });
    };
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => {}); // a reset after a refusal is expected
    socket.on('close', () => done(answer === '' ? 'cut' : 'answered'));
    signal.addEventListener('abort', () => {
      done('held');
      socket.destroy();
    }, { once: true });
  });
}

function admit(tls, body) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', path: '/mutate', method: 'POST', headers: { 'content-type': 'application/json' }, agent: false, ...tls }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let patched = false;
        try {
          patched = typeof JSON.parse(text).response?.patch === 'string';
        } catch {
          // not a review: counted as failed
        }
        resolve({ status: res.statusCode, patched, ms: performance.now() - started });
      });
    });
    req.on('error', () => resolve({ status: 0, patched: false, ms: performance.now() - started }));
    req.end(body);
  });
}

/**
 * Runs the flood and returns its figures.
 * @param {{ uploads?: number; uploadBytes?: number; holdMs?: number; args?: string[] }} options
 */
export async function runBodyFlood(options = {}) {
  const uploads = options.uploads ?? 100;
  const uploadBytes = options.uploadBytes ?? 3_000_000;
  const holdMs = options.holdMs ?? 4_000;
  const webhook = await startWebhookProcess(['--offline', ...(options.args ?? [])]);
  try {
    const { tls } = webhook;
    const body = review();
    const baseline = webhook.memory();
    const stopUploads = new AbortController();
    const flood = Array.from({ length: uploads }, (_, i) => upload(tls, i, uploadBytes, stopUploads.signal));
    const samples = [];
    const sampler = setInterval(() => {
      const m = webhook.memory();
      if (m !== undefined) samples.push(m.rss);
    }, 50);
    // Real reviews, one after another, while the uploads hold their connections.
    const reviews = [];
    const until = performance.now() + holdMs;
    await new Promise((r) => setTimeout(r, 300));
    while (performance.now() < until) {
      reviews.push(await admit(tls, body));
      await new Promise((r) => setTimeout(r, 100));
    }
    stopUploads.abort();
    const outcomes = await Promise.all(flood);
    await new Promise((r) => setTimeout(r, 500));
    const afterFlood = await admit(tls, body);
    clearInterval(sampler);
    const after = webhook.memory();
    const latencies = reviews.map((r) => r.ms).sort((a, b) => a - b);
    const count = (pred) => outcomes.filter(pred).length;
    return {
      figures: {
        flood_uploads: uploads,
        flood_upload_bytes: uploadBytes,
        flood_uploads_refused_503: count((o) => o.status === '503'),
        flood_uploads_cut_unanswered: count((o) => o.how === 'cut'),
        flood_uploads_still_held: count((o) => o.how === 'held'),
        flood_uploads_other_answer: count((o) => o.status !== undefined && o.status !== '503'),
        flood_uploads_sent_mib: Number((outcomes.reduce((s, o) => s + o.sent, 0) / 1048576).toFixed(1)),
        flood_reviews_sent: reviews.length,
        flood_reviews_patched: reviews.filter((r) => r.status === 200 && r.patched).length,
        flood_review_max_ms: Number((latencies.at(-1) ?? 0).toFixed(1)),
        flood_review_after_ok: afterFlood.status === 200 && afterFlood.patched ? 1 : 0,
        flood_rss_before_mib: Number((baseline?.rss ?? NaN).toFixed(1)),
        flood_rss_peak_mib: Number((after?.peak ?? NaN).toFixed(1)),
        flood_rss_samples_max_mib: Number(Math.max(0, ...samples).toFixed(1)),
        flood_rss_after_mib: Number((after?.rss ?? NaN).toFixed(1)),
        flood_memory_limit_mib: CHART_MEMORY_LIMIT_MIB,
      },
      stderr: webhook.stderr(),
    };
  } finally {
    await webhook.stop();
  }
}

async function main() {
  const options = { uploads: { type: 'string', default: '100' }, 'upload-bytes': { type: 'string', default: '3000000' }, 'hold-ms': { type: 'string', default: '4000' } };
  const { values } = parseArgs({ options });
  const uploads = Number(values.uploads);
  const uploadBytes = Number(values['upload-bytes']);
  const holdMs = Number(values['hold-ms']);
  if (!(uploads >= 1) || !(uploadBytes > HELD_BACK) || !(holdMs >= 500)) throw new Error(`--uploads >= 1, --upload-bytes > ${HELD_BACK}, --hold-ms >= 500`);
  const { figures } = await runBodyFlood({ uploads, uploadBytes, holdMs });
  for (const [name, value] of Object.entries(figures)) process.stdout.write(`${name}: ${value}\n`);
  return figures.flood_rss_peak_mib < CHART_MEMORY_LIMIT_MIB && figures.flood_reviews_patched === figures.flood_reviews_sent ? 0 : 1;
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
