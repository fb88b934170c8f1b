// Real HTTPS on 127.0.0.1: the server certificate verified as the API server does, and
// certificate rotation while requests flow (plain rewrite and Kubernetes Secret `..data` swap).
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { runWebhook } from '../../webhook/src/main.js';
import { makeCa, makeServerCert, serviceNames, type Pem } from '../helpers/certs.js';
import { loadReview } from './fixtures.js';
import { NAMESPACE, SERVICE, call, serveWebhook } from './https.js';

let ca: Pem;
let certA: Pem;
let certB: Pem;
const fingerprint = (pem: Pem) => new X509Certificate(pem.cert).fingerprint256;
const review = JSON.stringify(loadReview('create-v1-binding'));

beforeAll(async () => {
  ca = await makeCa();
  [certA, certB] = await Promise.all([makeServerCert(ca, serviceNames(SERVICE, NAMESPACE)), makeServerCert(ca, serviceNames(SERVICE, NAMESPACE))]);
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs the real server (runWebhook) on 127.0.0.1:0 until the test ends. */
const serve = (certFile: string, keyFile: string, pollMs: number) => serveWebhook(certFile, keyFile, pollMs, cleanups);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'webhook-tls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Sends requests on three fresh-connection workers until `until(replies)` holds. */
function traffic(port: number, until: (replies: readonly { fingerprint: string }[]) => boolean) {
  const replies: { status: number; fingerprint: string }[] = [];
  const failures: unknown[] = [];
  const worker = async () => {
    while (!until(replies) && replies.length + failures.length < 5000) {
      await call({ port, ca: ca.cert, body: review }).then((r) => replies.push(r), (e: unknown) => failures.push(e));
    }
  };
  return { replies, failures, run: Promise.all([worker(), worker(), worker()]) };
}

describe('HTTPS', () => {
  it('presents a certificate the API server accepts for <svc>.<ns>.svc, and only for its names', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'tls.crt'), certA.cert);
    await writeFile(join(dir, 'tls.key'), certA.key);
    const { port } = await serve(join(dir, 'tls.crt'), join(dir, 'tls.key'), 60_000);
    const ok = await call({ port, ca: ca.cert, body: review });
    expect(ok.status).toBe(200);
    expect(ok.fingerprint).toBe(fingerprint(certA));
    await expect(call({ port, ca: ca.cert, body: review, servername: 'other.kubevirt.svc' })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await expect(call({ port, ca: (await makeCa('other-ca')).cert, body: review })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('serves a rewritten certificate to new connections with no failed request', async () => {
    const dir = await tempDir();
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, certA.cert);
    await writeFile(keyFile, certA.key);
    const server = await serve(certFile, keyFile, 200);

    let rotated = false;
    const load = traffic(server.port, (replies) => rotated && replies.some((r) => r.fingerprint === fingerprint(certB)));
    while (load.replies.length < 20) await new Promise((r) => setTimeout(r, 5));
    // Not atomic on purpose: for a moment the cert is B and the key still A; A must stay served.
    await writeFile(certFile, certB.cert);
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(keyFile, certB.key);
    rotated = true;
    await load.run;

    expect(load.failures).toEqual([]);
    expect(load.replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(load.replies.map((r) => r.fingerprint))).toEqual(new Set([fingerprint(certA), fingerprint(certB)]));
    expect(server.logs.some((l) => l['msg'] === 'certificate reloaded')).toBe(true);
    // After the swap every new connection gets B.
    expect((await call({ port: server.port, ca: ca.cert, body: review })).fingerprint).toBe(fingerprint(certB));
  });

  it('follows a Kubernetes Secret volume ..data symlink swap through file events alone', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, '..2026_01_01_00_00_00.1'));
    await writeFile(join(dir, '..2026_01_01_00_00_00.1', 'tls.crt'), certA.cert);
    await writeFile(join(dir, '..2026_01_01_00_00_00.1', 'tls.key'), certA.key);
    await symlink('..2026_01_01_00_00_00.1', join(dir, '..data'));
    await symlink('..data/tls.crt', join(dir, 'tls.crt'));
    await symlink('..data/tls.key', join(dir, 'tls.key'));
    // Polling once a minute: only the directory watch can notice the swap within the test.
    const server = await serve(join(dir, 'tls.crt'), join(dir, 'tls.key'), 60_000);
    expect((await call({ port: server.port, ca: ca.cert, body: review })).fingerprint).toBe(fingerprint(certA));

    const load = traffic(server.port, (replies) => replies.some((r) => r.fingerprint === fingerprint(certB)));
    await mkdir(join(dir, '..2026_01_02_00_00_00.2'));
    await writeFile(join(dir, '..2026_01_02_00_00_00.2', 'tls.crt'), certB.cert);
    await writeFile(join(dir, '..2026_01_02_00_00_00.2', 'tls.key'), certB.key);
    await symlink('..2026_01_02_00_00_00.2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await load.run;
    expect(load.failures).toEqual([]);
    expect(load.replies.at(-1)?.fingerprint).toBe(fingerprint(certB));
  });

  it('keeps the old pair when the new files are not a matching pair', async () => {
    const dir = await tempDir();
    const certFile = join(dir, 'tls.crt');
    await writeFile(certFile, certA.cert);
    await writeFile(join(dir, 'tls.key'), certA.key);
    const server = await serve(certFile, join(dir, 'tls.key'), 100);
    await writeFile(certFile, certB.cert);
    while (!server.logs.some((l) => l['level'] === 40)) await new Promise((r) => setTimeout(r, 20));
    expect(server.logs.find((l) => l['level'] === 40)).toMatchObject({
      msg: 'certificate files changed but are not a valid pair yet; serving the previous one',
      err: expect.stringMatching(/private key does not match the certificate$/),
    });
    expect((await call({ port: server.port, ca: ca.cert, body: review })).fingerprint).toBe(fingerprint(certA));
    const metrics = await call({ port: server.port, ca: ca.cert, path: '/metrics' });
    expect(metrics.body).toContain('kubevirt_vhostuser_webhook_certificate_reloads_total{result="rejected"} 1');
  });

  it('refuses to start on a key that does not match the certificate', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'tls.crt'), certA.cert);
    await writeFile(join(dir, 'tls.key'), certB.key);
    const config = parseWebhookArgs(['--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--offline']);
    await expect(runWebhook(config, { stop: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'E_TLS',
      message: expect.stringMatching(/tls\.key: private key does not match the certificate$/),
    });
  });
});
