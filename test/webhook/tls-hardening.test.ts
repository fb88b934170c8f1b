// The real server (runWebhook) on 127.0.0.1 against the real `openssl s_client`: TLS 1.2 offers
// only ECDHE with AEAD ciphers, for RSA and ECDSA keys, also after a certificate reload; TLS 1.3
// works; TLS 1.1 does not. And a reload never installs a certificate outside its validity
// period: the served serial stays the old one, the log says why and a metric counts it.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { runWebhook } from '../../webhook/src/main.js';
import { makeCa, makeServerCert, makeServerCertValid, serviceNames, type Pem } from '../helpers/certs.js';
import { REPO_ROOT } from './fixtures.js';
import { NAMESPACE, SERVER_NAME, SERVICE, call, serveWebhook } from './https.js';

const NAMES = serviceNames(SERVICE, NAMESPACE);
const DAY = 24 * 3600 * 1000;
let ca: Pem;
let ecA: Pem;
let ecB: Pem;
let rsaA: Pem;
let rsaB: Pem;
let expired: Pem;
let notYetValid: Pem;

beforeAll(async () => {
  ca = await makeCa();
  const now = Date.now();
  [ecA, ecB, rsaA, rsaB, expired, notYetValid] = await Promise.all([
    makeServerCert(ca, NAMES),
    makeServerCert(ca, NAMES),
    makeServerCert(ca, NAMES, NAMES[0], { keyType: 'rsa' }),
    makeServerCert(ca, NAMES, NAMES[0], { keyType: 'rsa' }),
    makeServerCertValid(ca, NAMES, new Date(now - 30 * DAY), new Date(now - DAY)),
    makeServerCertValid(ca, NAMES, new Date(now + DAY), new Date(now + 30 * DAY)),
  ]);
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Running {
  readonly port: number;
  readonly dir: string;
  readonly logs: Record<string, unknown>[];
}

/** Runs the real server on 127.0.0.1:0 with `pem` in tls.crt/tls.key of a fresh directory. */
async function serve(pem: Pem, pollMs = 60_000): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'webhook-tls-hardening-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'tls.crt'), pem.cert);
  await writeFile(join(dir, 'tls.key'), pem.key);
  const { port, logs } = await serveWebhook(join(dir, 'tls.crt'), join(dir, 'tls.key'), pollMs, cleanups);
  return { port, dir, logs };
}

interface Handshake {
  readonly ok: boolean;
  /** `TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256` when ok, else the alert or error openssl printed. */
  readonly result: string;
}

/** One handshake with `openssl s_client` and `args` (e.g. -tls1_2 -cipher X); stdin is closed. */
function sClient(port: number, args: readonly string[]): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', SERVER_NAME, '-brief', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const protocol = /^Protocol version: (\S+)$/m.exec(out)?.[1];
      const suite = /^Ciphersuite: (\S+)$/m.exec(out)?.[1];
      if (protocol !== undefined && suite !== undefined) return resolve({ ok: true, result: `${protocol} ${suite}` });
      resolve({ ok: false, result: /alert [a-z ]+|no (?:cipher match|ciphers available|protocols available)/.exec(out)?.[0] ?? out.trim() });
    });
  });
}

/** The suites openssl can offer with TLS 1.2 when nothing is ruled out for being weak. */
function allTls12Suites(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['ciphers', '-s', '-tls1_2', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim().split(':').filter((s) => !s.startsWith('TLS_'))));
  });
}

/** Runs `task` on each item, four at a time (each spawns openssl). */
async function eachLimited<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return results;
}

/** Which TLS 1.2 suites the server accepts, trying every suite openssl knows, one per handshake. */
async function acceptedTls12(port: number): Promise<string[]> {
  const suites = await allTls12Suites();
  expect(suites.length).toBeGreaterThan(40);
  const results = await eachLimited(suites, (s) => sClient(port, ['-tls1_2', '-cipher', `${s}:@SECLEVEL=0`]));
  return suites.filter((_, i) => results[i]?.ok === true).sort();
}

// Written out rather than read from webhook/src/tls.ts: the test says what the policy is.
const rsaSuites = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'];
const ecdsaSuites = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'];

/** Serial number of the certificate a new TLS connection gets (not verified: any is reported). */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: SERVER_NAME, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

const serialOf = (pem: Pem): string => new X509Certificate(pem.cert).serialNumber;

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('TLS cipher policy, against openssl s_client', () => {
  // One server per key type for the tests that only connect; each stops at the end of the block.
  const ports = { rsa: 0, ecdsa: 0 };
  const stops: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    ports.rsa = (await serve(rsaA)).port;
    ports.ecdsa = (await serve(ecA)).port;
    stops.push(...cleanups.splice(0));
  });
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it.each([
    ['RSA', 'rsa', rsaSuites],
    ['ECDSA', 'ecdsa', ecdsaSuites],
  ] as const)('offers TLS 1.2 with exactly the ECDHE AEAD suites of an %s key', async (_kind, key, expected) => {
    expect(await acceptedTls12(ports[key])).toEqual(expected);
  });

  it.each([
    ['static RSA, CBC, SHA-1', 'AES128-SHA'],
    ['static RSA, AEAD', 'AES256-GCM-SHA384'],
    ['static RSA, AEAD', 'AES128-GCM-SHA256'],
    ['ECDHE, CBC, SHA-1', 'ECDHE-RSA-AES128-SHA'],
    ['ECDHE, CBC, SHA-256', 'ECDHE-RSA-AES128-SHA256'],
    ['ECDHE, CBC, SHA-384', 'ECDHE-RSA-AES256-SHA384'],
    ['finite-field DHE', 'DHE-RSA-AES128-GCM-SHA256'],
  ])('refuses %s (%s) with an RSA key', async (_what, suite) => {
    expect(await sClient(ports.rsa, ['-tls1_2', '-cipher', `${suite}:@SECLEVEL=0`])).toEqual({ ok: false, result: 'alert handshake failure' });
  });

  it.each(['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384'])(
    'refuses the CBC suite %s with an ECDSA key',
    async (suite) => {
      expect(await sClient(ports.ecdsa, ['-tls1_2', '-cipher', `${suite}:@SECLEVEL=0`])).toEqual({ ok: false, result: 'alert handshake failure' });
    },
  );

  it.each([
    ['RSA', 'rsa', 'ECDHE-RSA'],
    ['ECDSA', 'ecdsa', 'ECDHE-ECDSA'],
  ] as const)('accepts each ECDHE AEAD suite of an %s key by name', async (_kind, key, prefix) => {
    for (const suite of ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'CHACHA20-POLY1305']) {
      expect(await sClient(ports[key], ['-tls1_2', '-cipher', `${prefix}-${suite}`])).toEqual({ ok: true, result: `TLSv1.2 ${prefix}-${suite}` });
    }
  });

  it("keeps TLS 1.3 on with OpenSSL's default suites and refuses TLS 1.1 and 1.0", async () => {
    const port = ports.rsa;
    for (const suite of ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256']) {
      expect(await sClient(port, ['-tls1_3', '-ciphersuites', suite])).toEqual({ ok: true, result: `TLSv1.3 ${suite}` });
    }
    // SECLEVEL=0: OpenSSL 3 clients refuse TLS < 1.2 themselves otherwise, and the test would
    // prove nothing about the server.
    for (const version of ['-tls1_1', '-tls1']) {
      expect(await sClient(port, [version, '-cipher', 'DEFAULT:@SECLEVEL=0'])).toEqual({ ok: false, result: 'alert protocol version' });
    }
  });

  it('keeps the same policy after a certificate reload', async () => {
    const server = await serve(rsaA, 100);
    await writeFile(join(server.dir, 'tls.crt'), rsaB.cert);
    await writeFile(join(server.dir, 'tls.key'), rsaB.key);
    await until('the reload', async () => (await servedSerial(server.port)) === serialOf(rsaB));
    expect(await acceptedTls12(server.port)).toEqual(rsaSuites);
    expect((await sClient(server.port, ['-tls1_3'])).ok).toBe(true);
  });
});

describe('certificate validity period', () => {
  it.each([
    ['expired', () => expired, 'expired', /certificate expired at /],
    ['not yet valid', () => notYetValid, 'not_yet_valid', /certificate is not valid before /],
  ])('keeps serving the current certificate when the new one is %s, and says why', async (_what, pem, reason, message) => {
    const server = await serve(ecA, 100);
    const certFile = join(server.dir, 'tls.crt');
    expect(await servedSerial(server.port)).toBe(serialOf(ecA));
    await writeFile(certFile, pem().cert);
    await writeFile(join(server.dir, 'tls.key'), pem().key);
    await until('the refusal', () => server.logs.some((l) => l['reason'] === reason));

    const line = server.logs.find((l) => l['reason'] === reason);
    const cert = new X509Certificate(pem().cert);
    expect(line).toMatchObject({
      level: 40,
      msg: expect.stringMatching(/^certificate files changed but the certificate is (expired|not yet valid); serving the previous one$/),
      file: certFile,
      notBefore: cert.validFromDate.toISOString(),
      notAfter: cert.validToDate.toISOString(),
      now: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      err: expect.stringMatching(message),
    });
    expect(await servedSerial(server.port)).toBe(serialOf(ecA));
    // Checked again on every poll, but counted and logged once per refused pair.
    await new Promise((r) => setTimeout(r, 350));
    expect(server.logs.filter((l) => l['reason'] === reason)).toHaveLength(1);
    const metrics = await call({ port: server.port, ca: ca.cert, path: '/metrics' });
    expect(metrics.body).toContain(`kubevirt_vhostuser_webhook_certificate_reload_failures_total{reason="${reason}"} 1`);
    // The two files are written one after the other, so a poll may also have seen the new
    // certificate with the old key (counted as invalid): every refusal is one rejected reload.
    const counter = (series: string): number => Number(metrics.body.match(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'))?.[1] ?? NaN);
    const failures = ['expired', 'not_yet_valid', 'invalid'].map((r) => counter(`kubevirt_vhostuser_webhook_certificate_reload_failures_total{reason="${r}"}`));
    const rejected = counter('kubevirt_vhostuser_webhook_certificate_reloads_total{result="rejected"}');
    expect(rejected).toBeGreaterThanOrEqual(1);
    expect(rejected).toBe(failures.reduce((a, b) => a + b, 0));
    expect(metrics.body).toContain('kubevirt_vhostuser_webhook_certificate_reloads_total{result="loaded"} 0');

    // A valid pair afterwards is loaded as usual.
    await writeFile(certFile, ecB.cert);
    await writeFile(join(server.dir, 'tls.key'), ecB.key);
    await until('the valid pair', async () => (await servedSerial(server.port)) === serialOf(ecB));
  });

  it('counts a pair that does not match as invalid', async () => {
    const server = await serve(ecA, 100);
    await writeFile(join(server.dir, 'tls.crt'), ecB.cert);
    await until('the refusal', () => server.logs.some((l) => l['level'] === 40));
    const metrics = await call({ port: server.port, ca: ca.cert, path: '/metrics' });
    expect(metrics.body).toContain('kubevirt_vhostuser_webhook_certificate_reload_failures_total{reason="invalid"} 1');
    expect(await servedSerial(server.port)).toBe(serialOf(ecA));
  });

  it.each([
    ['expired', () => expired, /tls\.crt: certificate expired at \S+ \(valid \S+ to \S+, now \S+\); renew the certificate or check the clock$/],
    ['not yet valid', () => notYetValid, /tls\.crt: certificate is not valid before \S+ \(valid \S+ to \S+, now \S+\); renew the certificate or check the clock$/],
  ])('refuses to start on a certificate that is %s', async (_what, pem, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'webhook-tls-hardening-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'tls.crt'), pem().cert);
    await writeFile(join(dir, 'tls.key'), pem().key);
    const config = parseWebhookArgs(['--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--offline']);
    await expect(runWebhook(config, { stop: AbortSignal.abort() })).rejects.toMatchObject({ code: 'E_TLS', message: expect.stringMatching(message) });
  });

  it('the CLI says so in one error line, with no stack trace, and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webhook-tls-hardening-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'tls.crt'), expired.cert);
    await writeFile(join(dir, 'tls.key'), expired.key);
    const bin = join(REPO_ROOT, 'bin/kubevirt-vhostuser.js');
    const child = spawn(process.execPath, [bin, 'webhook', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--offline', '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Before the fix the server started on the expired certificate and kept running.
    cleanups.push(async () => void (child.exitCode === null && child.kill('SIGKILL')));
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: E_TLS: \S+tls\.crt: certificate expired at \S+ \(valid \S+ to \S+, now \S+\); renew the certificate or check the clock\n$/);
  });
});
