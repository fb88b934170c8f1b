// HTTPS client helpers for the TLS, reload and drain tests: real TLS on 127.0.0.1, verified the
// way the API server's webhook client verifies (caBundle + the Service's DNS name).
import { request, type Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';

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
