#!/usr/bin/env node
// Records what the webhook's /metrics serves after two traffic mixes, for the chart's alert tests
// (test/chart/alerts.test.ts, which replays each sample as one minute of traffic, sustained):
//   healthy.prom  patched pods, pods left alone, VMI lookups answered at once; a certificate
//                 valid for a year
//   failing.prom  a quarter of the requests failing their VMI lookup (HTTP 500), forged launcher
//                 pods, two decisions slower than half the default 10 s timeout; a certificate
//                 with 3 days left
// The real app (buildApp from dist/, so `npm run build` first) over real HTTPS on 127.0.0.1,
// scraped as Prometheus does; only the VMI lookups are stand-ins. The first line of each file
// says when it was scraped: the alert tests take timestamps relative to it.
// Run: npm run build && node scripts/record-metrics.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';
import { generate } from 'selfsigned';
import { buildApp } from '../dist/webhook/src/app.js';
import { parseWebhookArgs } from '../dist/webhook/src/config.js';
import { createMetrics } from '../dist/webhook/src/metrics.js';
import { certificateNotAfter } from '../dist/webhook/src/tls.js';

const root = new URL('..', import.meta.url);
const review = (name) => readFileSync(new URL(`fixtures/admission-reviews/${name}.json`, root), 'utf8');
const vmi = parse(readFileSync(new URL('fixtures/admission-reviews/api/vmi-vm-trex-1.yaml', root), 'utf8'));
const DAY = 86_400_000;

async function certificate(days) {
  const r = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + days * DAY),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { cert: r.cert, key: r.private };
}

function call(port, ca, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `lookup` answers each VMI read: 'ok', 'fail' or 'slow' (6 s). */
async function record(file, days, steps) {
  const pair = await certificate(days);
  let mode = 'ok';
  const lookups = {
    vmi: {
      getVmi: async () => {
        if (mode === 'fail') throw new Error('the API server answered 503');
        if (mode === 'slow') await new Promise((r) => setTimeout(r, 6000));
        return vmi;
      },
    },
    nad: { getNad: async () => undefined },
    pending: () => [],
    close: async () => {},
  };
  const metrics = createMetrics({ processMetrics: true });
  metrics.setCertificateExpiry(certificateNotAfter(pair)); // as runWebhook does
  const config = parseWebhookArgs(['--dev-cert', '--log-level', 'silent', '--lookup-timeout-ms', '9000']);
  const app = buildApp(config, { lookups, metrics, https: pair });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address();
  for (const [count, name, how] of steps) {
    mode = how;
    const body = review(name);
    await Promise.all(Array.from({ length: count }, () => call(port, pair.cert, '/mutate', body)));
  }
  const scraped = await call(port, pair.cert, '/metrics');
  const at = Date.now() / 1000;
  await app.close();
  writeFileSync(new URL(`fixtures/metrics/${file}`, root), `# recorded at ${at.toFixed(3)} by scripts/record-metrics.mjs\n${scraped.text}`);
  console.log(`${file}: ${scraped.text.split('\n').length} lines`);
}

await record('healthy.prom', 365, [
  [40, 'create-v1-binding', 'ok'],
  [20, 'non-launcher', 'ok'],
  [10, 'create-v0.53-vhostuser', 'ok'],
]);
await record('failing.prom', 3, [
  [20, 'create-v1-binding', 'ok'],
  [10, 'create-v0.53-vhostuser', 'fail'],
  [3, 'forged-user', 'ok'],
  [2, 'create-v0.53-vhostuser', 'slow'],
]);
