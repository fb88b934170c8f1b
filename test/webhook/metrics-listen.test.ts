// --metrics-listen: /metrics on its own HTTPS port (same certificate, reloaded with it) and no
// longer on the admission port, so that the chart's NetworkPolicy can admit only scrapers there
// while the admission port stays open to the API server, wherever it calls from.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { runWebhook } from '../../webhook/src/main.js';
import { makeCa, makeServerCert } from '../helpers/certs.js';
import { call } from './https.js';

let dir: string;
let ca: string;
const stop = new AbortController();
let done: Promise<number>;
const ports = { mutate: 0, metrics: 0 };

beforeAll(async () => {
  const authority = await makeCa('metrics-listen-ca');
  ca = authority.cert;
  const pair = await makeServerCert(authority, ['localhost']);
  dir = await mkdtemp(join(tmpdir(), 'metrics-listen-'));
  await writeFile(join(dir, 'tls.crt'), pair.cert);
  await writeFile(join(dir, 'tls.key'), pair.key);
  const lines: Record<string, unknown>[] = [];
  const args = ['--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--offline', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'];
  let listening!: () => void;
  const up = new Promise<void>((resolve) => (listening = resolve));
  done = runWebhook(parseWebhookArgs(args), {
    stop: stop.signal,
    logStream: { write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    onListening: (a) => {
      ports.mutate = a.port;
      listening();
    },
  });
  await up;
  ports.metrics = Number(lines.find((l) => l['msg'] === 'serving /metrics over HTTPS')?.['port']);
});

afterAll(async () => {
  stop.abort();
  expect(await done).toBe(0);
  await rm(dir, { recursive: true, force: true });
});

const get = (port: number, path: string) => call({ port, ca, servername: 'localhost', path });

describe('--metrics-listen', () => {
  it('serves /metrics on its own port, over HTTPS with the serving certificate', async () => {
    expect(ports.metrics).toBeGreaterThan(0);
    expect(ports.metrics).not.toBe(ports.mutate);
    const res = await get(ports.metrics, '/metrics');
    expect(res.status).toBe(200);
    expect(res.body).toContain('kubevirt_vhostuser_webhook_admission_requests_total');
  });

  it('no longer serves /metrics on the admission port, which keeps its probes', async () => {
    expect((await get(ports.mutate, '/metrics')).status).toBe(404);
    expect((await get(ports.mutate, '/readyz')).status).toBe(200);
  });

  it('serves nothing else on the metrics port', async () => {
    for (const path of ['/mutate', '/readyz', '/metrics/../readyz', '/']) {
      const res = await get(ports.metrics, path);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'E_NOT_FOUND' });
    }
    const post = await call({ port: ports.metrics, ca, servername: 'localhost', path: '/metrics', body: '{}' });
    expect(post.status).toBe(404);
  });

  it('refuses the admission port as the metrics port', () => {
    expect(() => parseWebhookArgs(['--dev-cert', '--listen', '0.0.0.0:8443', '--metrics-listen', '0.0.0.0:8443'])).toThrow(
      '--metrics-listen port 8443 is the --listen port; pick another, or leave --metrics-listen out to serve /metrics there',
    );
    expect(() => parseWebhookArgs(['--dev-cert', '--metrics-listen', '9090'])).toThrow('--metrics-listen: expected host:port');
    expect(parseWebhookArgs(['--dev-cert', '--metrics-listen', '[::]:9090']).metricsListen).toEqual({ host: '::', port: 9090 });
    expect(parseWebhookArgs(['--dev-cert']).metricsListen).toBeUndefined();
  });
});
