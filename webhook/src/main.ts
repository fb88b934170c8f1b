// I/O edge of the webhook server: loads the certificate, listens, watches the certificate files,
// connects to the API after listening (so /healthz answers while the client loads), and on
// SIGTERM answers for one more second with Connection: close, stops accepting, lets in-flight
// requests finish, then resolves the exit code.
import type { Server as HttpsServer } from 'node:https';
import { SERVER_TIMEOUTS, buildApp, type KeyPair } from './app.js';
import type { WebhookConfig } from './config.js';
import type { WebhookError } from './errors.js';
import { offlineLookups, type Lookups } from './k8s/sources.js';
import { createLineBuffer, type LineBuffer } from './log-stream.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { createMetrics } from './metrics.js';
import { TLS_POLICY, createDevKeyPair, readKeyPair, rejectionReason, watchKeyPair } from './tls.js';

/** How long a stopping server keeps answering before it closes its connections. */
export const LAME_DUCK_MS = 1_000;

export interface RunOptions {
  /** Log destination; stdout by default. */
  readonly logStream?: { write(line: string): void };
  /** Stops the server when aborted; by default the first SIGTERM or SIGINT. */
  readonly stop?: AbortSignal;
  /** Told the bound address once listening (port 0 picks a free port). */
  readonly onListening?: (address: { host: string; port: number }) => void;
}

/** Lookups whose client is still loading: calls wait for it (within their deadline). */
function deferredLookups(): { lookups: Lookups; settle(real: Lookups): void } {
  let real: Lookups | undefined;
  let settle!: (l: Lookups) => void;
  const ready = new Promise<Lookups>((resolve) => (settle = resolve));
  const lookups: Lookups = {
    vmi: { getVmi: async (...args) => ((real ?? (await ready)).vmi as NonNullable<Lookups['vmi']>).getVmi(...args) },
    nad: { getNad: async (...args) => ((real ?? (await ready)).nad as NonNullable<Lookups['nad']>).getNad(...args) },
    pending: () => (real === undefined ? ['kubernetes client'] : real.pending()),
    close: async () => real?.close(),
  };
  return { lookups, settle: (l) => settle((real = l)) };
}

function signalled(): AbortSignal {
  const ac = new AbortController();
  const on = (sig: NodeJS.Signals) => {
    process.off('SIGTERM', on);
    process.off('SIGINT', on);
    ac.abort(sig);
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return ac.signal;
}

/** Runs the server until stopped; resolves 0 after a clean drain, 1 otherwise. */
export async function runWebhook(config: WebhookConfig, opts: RunOptions = {}): Promise<number> {
  const stop = opts.stop ?? signalled();
  const pair: KeyPair = config.tls.kind === 'dev' ? await createDevKeyPair() : readKeyPair(config.tls.certFile, config.tls.keyFile);
  const metrics = createMetrics();
  const deferred = config.offline ? undefined : deferredLookups();
  const lookups = deferred?.lookups ?? offlineLookups();
  const buffer = opts.logStream === undefined ? createLineBuffer() : undefined;
  const flushLogs = () => buffer?.flush();
  process.on('exit', flushLogs);
  const app = buildApp(config, { lookups, metrics, https: pair, logStream: opts.logStream ?? (buffer as LineBuffer) });
  const log = app.log;
  // While draining, every answer closes its connection, so a client sends its next request on
  // a new connection (to another replica) instead of racing the close of this one.
  let draining = false;
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload); // callback style: no promise per request on the hot path
  });

  // /metrics on a port of its own when asked: first, so a port in use fails before anything serves.
  const metricsTls = (p: KeyPair) => ({ ...TLS_POLICY, cert: p.cert, key: p.key });
  let metricsServer: MetricsServer | undefined;
  if (config.metricsListen !== undefined) {
    const t = SERVER_TIMEOUTS;
    const tls = metricsTls(pair);
    metricsServer = await startMetricsServer({ ...config.metricsListen, tls, registry: metrics.registry, handshakeMs: t.handshakeMs, headersMs: t.headersMs, requestMs: t.requestMs });
    log.info({ host: config.metricsListen.host, port: metricsServer.port }, 'serving /metrics over HTTPS');
  }
  await app.listen({ host: config.listen.host, port: config.listen.port, listenTextResolver: () => 'listening' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  log.info({ host: config.listen.host, port, offline: config.offline, tls: config.tls.kind }, 'serving /mutate over HTTPS');
  opts.onListening?.({ host: config.listen.host, port });

  let stopWatching = () => {};
  if (config.tls.kind === 'files') {
    const server = app.server as unknown as HttpsServer;
    stopWatching = watchKeyPair({
      certFile: config.tls.certFile,
      keyFile: config.tls.keyFile,
      current: pair,
      pollIntervalMs: config.tlsPollIntervalMs,
      onReload: (next, cert) => {
        // Only new connections use the new context; in-flight requests finish on the old one.
        server.setSecureContext({ ...TLS_POLICY, cert: next.cert, key: next.key });
        metricsServer?.setSecureContext(metricsTls(next));
        metrics.certificateReloads.inc({ result: 'loaded' });
        log.info({ subject: cert.subject, notAfter: cert.validTo, fingerprint256: cert.fingerprint256 }, 'certificate reloaded');
      },
      onReject: (err) => {
        const reason = rejectionReason(err);
        metrics.certificateReloads.inc({ result: 'rejected' });
        metrics.certificateReloadFailures.inc({ reason });
        if (reason === 'invalid') {
          log.warn({ err: err.message }, 'certificate files changed but are not a valid pair yet; serving the previous one');
        } else {
          // The file and the dates, so the log says which Secret to renew or which clock is off.
          const { file, notBefore, notAfter, now } = (err as WebhookError).details;
          log.warn({ reason, file, notBefore, notAfter, now, err: err.message }, `certificate files changed but the certificate is ${reason === 'expired' ? 'expired' : 'not yet valid'}; serving the previous one`);
        }
      },
    });
  }

  let failed = false;
  const stopNow = new AbortController();
  if (deferred !== undefined) {
    // Imported only now: the client costs about a second, and /healthz should answer meanwhile.
    import('./k8s/client.js')
      .then((m) => m.connectKubernetes({ ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }), log }))
      .then(deferred.settle, (err: unknown) => {
        log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot set up the Kubernetes client');
        failed = true;
        stopNow.abort();
      });
  }
  await new Promise<void>((resolve) => {
    if (stop.aborted || stopNow.signal.aborted) resolve();
    stop.addEventListener('abort', () => resolve(), { once: true });
    stopNow.signal.addEventListener('abort', () => resolve(), { once: true });
  });

  const signal = String(stop.reason ?? 'error');
  const lameDuckMs = Math.min(LAME_DUCK_MS, config.drainTimeoutMs);
  log.info({ signal, lameDuckMs }, 'stopping: answering with Connection: close before closing');
  draining = true;
  // Lame duck: still listening, so requests already written to open connections (unread during
  // a GC pause at SIGTERM, say) are answered; closing at once would reset them with the idle
  // connections (server.close() closes idle connections, and unread requests count as idle).
  await new Promise((resolve) => setTimeout(resolve, lameDuckMs));
  log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'draining: no new connections, finishing in-flight requests');
  stopWatching();
  const drained = await Promise.race([
    app.close().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), config.drainTimeoutMs).unref()),
  ]);
  if (!drained) {
    log.warn({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timed out; closing remaining connections');
    app.server.closeAllConnections();
  }
  await metricsServer?.close();
  await lookups.close();
  log.info({ drained }, 'stopped');
  flushLogs();
  process.off('exit', flushLogs);
  return drained && !failed ? 0 : 1;
}
