// The real server's /metrics: the serving certificate's expiry time at start and after a reload
// (what the CertificateExpiringSoon alert reads), and the default process metrics beside ours.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageVersion } from '../../cli/package.js';
import { makeCa, makeServerCertValid, serviceNames, type Pem } from '../helpers/certs.js';
import { parseExposition, type Exposition } from './exposition.js';
import { NAMESPACE, SERVICE, call, serveWebhook } from './https.js';

const EXPIRY = 'kubevirt_vhostuser_webhook_certificate_expiry_timestamp_seconds';
const DAY = 24 * 3600 * 1000;
// Whole seconds: X.509 times carry no fractions.
const at = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
const notBefore = at(Date.now() - DAY);
const soon = at(Date.now() + 5 * DAY);
const later = at(Date.now() + 90 * DAY);

let ca: Pem;
let expiresSoon: Pem;
let expiresLater: Pem;
beforeAll(async () => {
  ca = await makeCa();
  const names = serviceNames(SERVICE, NAMESPACE);
  [expiresSoon, expiresLater] = await Promise.all([makeServerCertValid(ca, names, notBefore, soon), makeServerCertValid(ca, names, notBefore, later)]);
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function scrape(port: number): Promise<Exposition> {
  const reply = await call({ port, ca: ca.cert, path: '/metrics' });
  expect(reply.status).toBe(200);
  return parseExposition(reply.body);
}

describe('certificate expiry and process metrics on the running server', () => {
  it('exposes the served certificate notAfter, and the new one after a reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webhook-expiry-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, expiresSoon.cert);
    await writeFile(keyFile, expiresSoon.key);
    const server = await serveWebhook(certFile, keyFile, 100, cleanups);

    let m = await scrape(server.port);
    expect(m.value(EXPIRY)).toBe(soon.getTime() / 1000);

    await writeFile(keyFile, expiresLater.key);
    await writeFile(certFile, expiresLater.cert);
    while (!server.logs.some((l) => l['msg'] === 'certificate reloaded')) await new Promise((r) => setTimeout(r, 20));
    m = await scrape(server.port);
    expect(m.value(EXPIRY)).toBe(later.getTime() / 1000);
    expect(m.value('kubevirt_vhostuser_webhook_certificate_reloads_total', { result: 'loaded' })).toBe(1);
  });

  it('serves the default process and Node.js metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webhook-expiry-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'tls.crt'), expiresLater.cert);
    await writeFile(join(dir, 'tls.key'), expiresLater.key);
    const server = await serveWebhook(join(dir, 'tls.crt'), join(dir, 'tls.key'), 10_000, cleanups);
    const m = await scrape(server.port);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(m.types.has(name), name).toBe(true);
    }
    expect(m.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.value('kubevirt_vhostuser_webhook_build_info', { version: packageVersion(), nodejs_version: process.versions.node })).toBe(1);
  });
});
