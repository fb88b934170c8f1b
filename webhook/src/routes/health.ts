// GET /healthz (the process serves), /readyz (certificate loaded, caches synced) and /metrics.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** `registry` undefined: /metrics is served on its own port (metrics-server.ts), not here. */
export function registerHealthRoutes(app: FastifyInstance, pending: () => readonly string[], registry: Registry | undefined): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const waiting = pending();
    if (waiting.length === 0) return { status: 'ready' };
    reply.code(503);
    return { status: 'not ready', waiting };
  });
  if (registry === undefined) return;
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
