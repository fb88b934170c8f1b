// I/O edge: GET /metrics alone on its own HTTPS port (--metrics-listen). The admission port has to
// accept connections from wherever the API server calls from, which differs per cluster, so a
// NetworkPolicy can only narrow who scrapes metrics when metrics have a port of their own.
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
  /** Certificate, key and TLS policy; the same as the admission port's. */
  readonly tls: ServerOptions;
  readonly registry: Registry;
  /** Handshake, headers and whole-request limits, as on the admission port. */
  readonly handshakeMs: number;
  readonly headersMs: number;
  readonly requestMs: number;
}

export interface MetricsServer {
  readonly port: number;
  /** Installs a reloaded certificate for new connections. */
  setSecureContext(options: ServerOptions): void;
  /** Stops listening and closes every connection (a scrape may be retried). */
  close(): Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };

export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer(
    { ...o.tls, handshakeTimeout: o.handshakeMs, headersTimeout: o.headersMs, requestTimeout: o.requestMs },
    (req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
        // Nothing else is served here; a body, if any, is discarded with the connection.
        res.writeHead(404, { ...JSON_TYPE, connection: 'close' });
        res.end(JSON.stringify({ statusCode: 404, code: 'E_NOT_FOUND', message: `no route ${req.method ?? ''} ${req.url ?? ''} on the metrics port; it serves GET /metrics` }));
        return;
      }
      o.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500, JSON_TYPE);
          res.end(JSON.stringify({ statusCode: 500, code: 'E_INTERNAL', message: 'internal error; see the webhook log' }));
        },
      );
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : o.port,
    setSecureContext: (options) => server.setSecureContext(options),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
