// HTTPS client helpers for the TLS, reload and drain tests: real TLS on 127.0.0.1, verified the
// way the API server's webhook client verifies (caBundle + the Service's DNS name).
import { request, type Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { expect } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { runWebhook } from '../../webhook/src/main.js';

export const SERVICE = 'kubevirt-vhostuser-webhook';
export const NAMESPACE = 'kubevirt';
export const SERVER_NAME = `${SERVICE}.${NAMESPACE}.svc`;

export interface Reply {
  readonly status: number;
  readonly body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
}

export interface CallOptions {
  readonly port: number;
  readonly ca: string;
  readonly servername?: string;
  readonly path?: string;
  readonly body?: string;
  /** false (default): a new connection, hence a new TLS handshake, per call. */
  readonly agent?: Agent | false;
}

export function call(o: CallOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path ?? '/mutate',
        method: o.body === undefined ? 'GET' : 'POST',
        ca: o.ca,
        servername: o.servername ?? SERVER_NAME,
        agent: o.agent ?? false,
        headers: o.body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface RunningWebhook {
  readonly port: number;
  readonly logs: Record<string, unknown>[];
}

/**
 * Runs the real server (runWebhook, offline) on 127.0.0.1:0 with the given certificate files;
 * `cleanups` gets the step that stops it and checks it exited 0.
 */
export async function serveWebhook(certFile: string, keyFile: string, pollMs: number, cleanups: (() => Promise<unknown>)[]): Promise<RunningWebhook> {
  const stop = new AbortController();
  const logs: Record<string, unknown>[] = [];
  const config = parseWebhookArgs(['--tls-cert', certFile, '--tls-key', keyFile, '--offline', '--listen', '127.0.0.1:0', '--tls-poll-interval-ms', String(pollMs)]);
  let listening!: (port: number) => void;
  const port = new Promise<number>((resolve) => (listening = resolve));
  const done = runWebhook(config, {
    stop: stop.signal,
    logStream: { write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    onListening: (a) => listening(a.port),
  });
  cleanups.push(async () => {
    stop.abort();
    expect(await done).toBe(0);
  });
  return { port: await Promise.race([port, done.then(() => Promise.reject(new Error('server stopped early')))]), logs };
}
