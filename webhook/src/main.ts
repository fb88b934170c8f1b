// I/O edge of the webhook server: loads the certificate, listens, watches the certificate files,
// connects to the API after listening (so /healthz answers while the client loads), and on
// SIGTERM answers for one more second with Connection: close, stops accepting, lets in-flight
// requests finish, then resolves the exit code. runWebhook reads as the list of those steps.
import type { Server as HttpsServer } from 'node:https';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { SERVER_TIMEOUTS, buildApp, type AppDeps, type KeyPair } from './app.js';
import type { WebhookConfig } from './config.js';
import type { WebhookError } from './errors.js';
import { offlineLookups, type Lookups } from './k8s/sources.js';
import { createLogDestination, flushLog, type LogDestination } from './log.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { createMetrics, type WebhookMetrics } from './metrics.js';
import { TLS_POLICY, certificateNotAfter, createDevKeyPair, readKeyPair, rejectionReason, watchKeyPair } from './tls.js';

/** How long a stopping server keeps answering before it closes its connections. */
export const LAME_DUCK_MS = 1_000;

export interface RunOptions {
  /** Log destination; pino's asynchronous stdout destination by default. */
  readonly logStream?: LogDestination;
  /** Stops the server when aborted; by default the first SIGTERM or SIGINT. */
  readonly stop?: AbortSignal;
  /** Told the bound address once listening (port 0 picks a free port). */
  readonly onListening?: (address: { host: string; port: number }) => void;
}

/** Runs the server until stopped; resolves 0 after a clean drain, 1 otherwise. */
export async function runWebhook(config: WebhookConfig, opts: RunOptions = {}): Promise<number> {
  const stop = opts.stop ?? signalled();
  const pair = await loadKeyPair(config);
  const metrics = createMetrics({ processMetrics: true });
  metrics.setCertificateExpiry(certificateNotAfter(pair));
  const deferred = config.offline ? undefined : deferredLookups();
  const lookups = deferred?.lookups ?? offlineLookups();
  const logStream = opts.logStream ?? createLogDestination();
  const { app, startDraining } = buildServingApp(config, { lookups, metrics, https: pair, logStream });
  const log = app.log;

  // First, so a metrics port in use fails before anything serves.
  const metricsServer = await startMetricsPort(config, pair, metrics, log);
  const port = await listen(app, config);
  opts.onListening?.({ host: config.listen.host, port });
  const stopWatching = watchCertificates(config, pair, { app, metricsServer, metrics, log });
  const apiFailed = deferred === undefined ? new AbortController().signal : connectKubernetesLater(config, deferred.settle, log);

  const signal = await stopped(stop, apiFailed);
  const drained = await drain(app, config, signal, startDraining, stopWatching);
  await metricsServer?.close();
  await lookups.close();
  log.info({ drained }, 'stopped');
  await flushLog(logStream);
  return drained && !apiFailed.aborted ? 0 : 1;
}

/** The first SIGTERM or SIGINT, as an abort whose reason is the signal's name. */
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

/** The serving pair: generated with --dev-cert, else read and checked (E_TLS when unusable). */
async function loadKeyPair(config: WebhookConfig): Promise<KeyPair> {
  return config.tls.kind === 'dev' ? createDevKeyPair() : readKeyPair(config.tls.certFile, config.tls.keyFile);
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

/** The app, and the switch that makes every later answer close its connection. */
function buildServingApp(config: WebhookConfig, deps: AppDeps): { app: FastifyInstance; startDraining(): void } {
  const app = buildApp(config, deps);
  // While draining, every answer closes its connection, so a client sends its next request on
  // a new connection (to another replica) instead of racing the close of this one.
  let draining = false;
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload); // callback style: no promise per request on the hot path
  });
  return { app, startDraining: () => void (draining = true) };
}

const metricsTls = (p: KeyPair) => ({ ...TLS_POLICY, cert: p.cert, key: p.key });

/** /metrics on a port of its own, when --metrics-listen asks for one. */
async function startMetricsPort(config: WebhookConfig, pair: KeyPair, metrics: WebhookMetrics, log: FastifyBaseLogger): Promise<MetricsServer | undefined> {
  if (config.metricsListen === undefined) return undefined;
  const t = SERVER_TIMEOUTS;
  const server = await startMetricsServer({
    ...config.metricsListen,
    tls: metricsTls(pair),
    registry: metrics.registry,
    handshakeMs: t.handshakeMs,
    headersMs: t.headersMs,
    requestMs: t.requestMs,
  });
  log.info({ host: config.metricsListen.host, port: server.port }, 'serving /metrics over HTTPS');
  return server;
}

/** Listens on --listen; resolves the bound port. */
async function listen(app: FastifyInstance, config: WebhookConfig): Promise<number> {
  await app.listen({ host: config.listen.host, port: config.listen.port, listenTextResolver: () => 'listening' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  app.log.info({ host: config.listen.host, port, offline: config.offline, tls: config.tls.kind }, 'serving /mutate over HTTPS');
  return port;
}

interface ReloadTargets {
  readonly app: FastifyInstance;
  readonly metricsServer: MetricsServer | undefined;
  readonly metrics: WebhookMetrics;
  readonly log: FastifyBaseLogger;
}

/** Installs each new valid pair of --tls-cert/--tls-key on both ports; returns the stop function. */
function watchCertificates(config: WebhookConfig, pair: KeyPair, to: ReloadTargets): () => void {
  if (config.tls.kind !== 'files') return () => {};
  const server = to.app.server as unknown as HttpsServer;
  return watchKeyPair({
    certFile: config.tls.certFile,
    keyFile: config.tls.keyFile,
    current: pair,
    pollIntervalMs: config.tlsPollIntervalMs,
    onReload: (next, cert) => {
      // Only new connections use the new context; in-flight requests finish on the old one.
      server.setSecureContext({ ...TLS_POLICY, cert: next.cert, key: next.key });
      to.metricsServer?.setSecureContext(metricsTls(next));
      to.metrics.certificateReloads.inc({ result: 'loaded' });
      to.metrics.setCertificateExpiry(cert.validToDate);
      to.log.info({ subject: cert.subject, notAfter: cert.validTo, fingerprint256: cert.fingerprint256 }, 'certificate reloaded');
    },
    onReject: (err) => {
      const reason = rejectionReason(err);
      to.metrics.certificateReloads.inc({ result: 'rejected' });
      to.metrics.certificateReloadFailures.inc({ reason });
      if (reason === 'invalid') {
        to.log.warn({ err: err.message }, 'certificate files changed but are not a valid pair yet; serving the previous one');
        return;
      }
      // The file and the dates, so the log says which Secret to renew or which clock is off.
      const { file, notBefore, notAfter, now } = (err as WebhookError).details;
      const what = reason === 'expired' ? 'expired' : 'not yet valid';
      to.log.warn({ reason, file, notBefore, notAfter, now, err: err.message }, `certificate files changed but the certificate is ${what}; serving the previous one`);
    },
  });
}

/**
 * Loads the Kubernetes client in the background and hands it to the deferred lookups. Imported
 * only now: it costs about a second, and /healthz should answer meanwhile. The signal aborts
 * when it cannot be set up, which stops the server with exit code 1.
 */
function connectKubernetesLater(config: WebhookConfig, settle: (real: Lookups) => void, log: FastifyBaseLogger): AbortSignal {
  const failed = new AbortController();
  import('./k8s/client.js')
    .then((m) => m.connectKubernetes({ ...(config.kubeconfig === undefined ? {} : { kubeconfig: config.kubeconfig }), log }))
    .then(settle, (err: unknown) => {
      log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot set up the Kubernetes client');
      failed.abort();
    });
  return failed.signal;
}

/** Resolves, with the signal's name or 'error', once either signal aborts. */
async function stopped(stop: AbortSignal, failed: AbortSignal): Promise<string> {
  await new Promise<void>((resolve) => {
    if (stop.aborted || failed.aborted) return resolve();
    stop.addEventListener('abort', () => resolve(), { once: true });
    failed.addEventListener('abort', () => resolve(), { once: true });
  });
  return String(stop.reason ?? 'error');
}

/** Lame duck, then close: true when every in-flight request finished within --drain-timeout-ms. */
async function drain(app: FastifyInstance, config: WebhookConfig, signal: string, startDraining: () => void, stopWatching: () => void): Promise<boolean> {
  const lameDuckMs = Math.min(LAME_DUCK_MS, config.drainTimeoutMs);
  app.log.info({ signal, lameDuckMs }, 'stopping: answering with Connection: close before closing');
  startDraining();
  // Lame duck: still listening, so requests already written to open connections (unread during
  // a GC pause at SIGTERM, say) are answered; closing at once would reset them with the idle
  // connections (server.close() closes idle connections, and unread requests count as idle).
  await new Promise((resolve) => setTimeout(resolve, lameDuckMs));
  app.log.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'draining: no new connections, finishing in-flight requests');
  stopWatching();
  const drained = await Promise.race([
    app.close().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), config.drainTimeoutMs).unref()),
  ]);
  if (!drained) {
    app.log.warn({ drainTimeoutMs: config.drainTimeoutMs }, 'drain timed out; closing remaining connections');
    app.server.closeAllConnections();
  }
  return drained;
}
