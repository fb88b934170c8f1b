// SIGTERM on the real `kubevirt-vhostuser webhook` process: it stops accepting connections,
// finishes the requests in flight, and exits 0. Runs the built CLI (npm test builds first).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeServerCert, serviceNames, type Pem } from '../helpers/certs.js';
import { REPO_ROOT, loadReview } from './fixtures.js';
import { NAMESPACE, SERVER_NAME, SERVICE, call } from './https.js';

const BIN = join(REPO_ROOT, 'bin/kubevirt-vhostuser.js');
let ca: Pem;
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'dist/webhook/src/cli.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  ca = await makeCa();
  const cert = await makeServerCert(ca, serviceNames(SERVICE, NAMESPACE));
  dir = await mkdtemp(join(tmpdir(), 'webhook-drain-'));
  await writeFile(join(dir, 'tls.crt'), cert.cert);
  await writeFile(join(dir, 'tls.key'), cert.key);
  return () => rm(dir, { recursive: true, force: true });
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts the CLI; resolves with its port once it logs that it serves, and a log reader. */
async function start(
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; port: number; lines: Record<string, unknown>[]; waitFor(msg: string): Promise<Record<string, unknown>> }> {
  const child = spawn(process.execPath, [BIN, 'webhook', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--offline', '--listen', '127.0.0.1:0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const w of waiters.filter((w) => w.msg === line['msg'])) w.resolve(line);
  });
  const waitFor = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = lines.find((l) => l['msg'] === msg);
      if (seen !== undefined) return resolve(seen);
      waiters.push({ msg, resolve });
      child.once('exit', (code) => reject(new Error(`webhook exited (${String(code)}) before logging "${msg}"`)));
    });
  const serving = await waitFor('serving /mutate over HTTPS');
  return { child, port: serving['port'] as number, lines, waitFor };
}

/**
 * A request in flight: `Expect: 100-continue` makes the server answer "100 Continue" once it has
 * parsed the headers, so `started` resolves only when the server holds the request. Half the body
 * follows; `finish()` sends the rest.
 */
function inFlight(port: number, body: string) {
  const req = request({
    host: '127.0.0.1',
    port,
    path: '/mutate',
    method: 'POST',
    ca: ca.cert,
    servername: SERVER_NAME,
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
  });
  const half = Math.floor(body.length / 2);
  const started = new Promise<void>((resolve) =>
    req.once('continue', () => {
      req.write(body.slice(0, half));
      resolve();
    }),
  );
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { started, response, finish: () => req.end(body.slice(half)) };
}

/** Tries new connections until one is refused; any one that is served is a failure. */
async function newConnectionOutcome(port: number): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const outcome = await call({ port, ca: ca.cert, path: '/healthz' }).then(
      (r) => `served ${r.status}`,
      (e: { code?: string }) => e.code ?? 'error',
    );
    if (outcome !== 'ECONNRESET') return outcome;
    await new Promise((r) => setTimeout(r, 10));
  }
  return 'still accepting';
}

describe('SIGTERM', () => {
  it('stops accepting, completes the requests in flight, and exits 0', async () => {
    const { child, port, lines, waitFor } = await start();
    const review = loadReview('create-v1-binding');
    const uids = ['held-1', 'held-2', 'held-3'];
    const held = uids.map((uid) => inFlight(port, JSON.stringify({ ...review, request: { ...(review['request'] as object), uid } })));
    await Promise.all(held.map((r) => r.started));

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    await waitFor('draining: no new connections, finishing in-flight requests');
    // The listener closes a moment after the log line; a connection racing it is reset, never served.
    expect(await newConnectionOutcome(port)).toBe('ECONNREFUSED');

    for (const r of held) r.finish();
    const replies = await Promise.all(held.map((r) => r.response));
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect((JSON.parse(reply.body) as { response: { patchType?: string } }).response.patchType).toBe('JSONPatch');
    }
    expect(await exited).toBe(0);
    expect(await waitFor('stopped')).toMatchObject({ drained: true });
    // Answered while draining, logged moments before exit: the asynchronous destination was
    // flushed, so every line is there, and 'stopped' is the last.
    expect(lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid']).sort()).toEqual(uids);
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
  });

  it('gives up after --drain-timeout-ms on a request that never completes, and exits 1', async () => {
    const { child, port, waitFor } = await start(['--drain-timeout-ms', '200']);
    const stuck = inFlight(port, JSON.stringify(loadReview('create-v1-binding')));
    await stuck.started;
    stuck.response.catch(() => {}); // the server cuts it off: that is the point
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await waitFor('drain timed out; closing remaining connections')).toMatchObject({ drainTimeoutMs: 200 });
    expect(await exited).toBe(1);
  });

  it('exits 1 with a clear log line when it has no API access and no --offline', async () => {
    const home = await mkdtemp(join(tmpdir(), 'no-kube-'));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env['KUBECONFIG'];
    delete env['KUBERNETES_SERVICE_HOST'];
    const child = spawn(process.execPath, [BIN, 'webhook', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    await rm(home, { recursive: true, force: true });
    expect(code).toBe(1);
    const fatal = out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['level'] === 60);
    expect(fatal).toMatchObject({ msg: 'cannot set up the Kubernetes client', err: expect.stringMatching(/^no Kubernetes API access: .*pass --kubeconfig FILE or run with --offline$/) });
  });
});
