// buildApp(config, deps): the fastify instance with every route; it never listens (main.ts does),
// so tests drive it with inject(). Lookups, metrics and the certificate are passed in.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DecisionContext } from './admission/decide.js';
import type { MutationConfig, WebhookConfig } from './config.js';
import { WebhookError } from './errors.js';
import type { Lookups } from './k8s/sources.js';
import { createLogDestination, flushLog, type LogDestination } from './log.js';
import type { WebhookMetrics } from './metrics.js';
import { createPlanner } from './mutate/plan.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerJsonBody } from './routes/json-body.js';
import { toHttpError } from './routes/http-errors.js';
import { registerMutateRoute } from './routes/mutate.js';
import { TLS_POLICY } from './tls.js';

export type AppConfig = MutationConfig &
  Pick<WebhookConfig, 'lookupTimeoutMs' | 'bodyLimitBytes' | 'logLevel' | 'maxInflightBodyBytes' | 'maxNadLookups' | 'metricsListen'>;

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/**
 * Socket limits. The API server sends each review whole and at once, so a client that dribbles
 * its handshake, headers or body (slowloris) is not the API server: it is cut off instead of
 * holding a connection. Node checks the header and request limits every checkIntervalMs.
 */
export interface ServerTimeouts {
  /** TLS handshake, before any HTTP (https.Server handshakeTimeout). */
  readonly handshakeMs: number;
  /** Request headers complete. */
  readonly headersMs: number;
  /** Whole request received, headers and body. */
  readonly requestMs: number;
  /** No byte either way while a request is open; above the 29 s lookup budget. */
  readonly idleMs: number;
  /** Idle keep-alive connection between requests. */
  readonly keepAliveMs: number;
  readonly checkIntervalMs: number;
  /** An upload unfinished this long may be cut when the body budget is full (routes/json-body.ts). */
  readonly bodyEvictAfterMs: number;
}

export const SERVER_TIMEOUTS: ServerTimeouts = {
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 30_000,
  idleMs: 60_000,
  keepAliveMs: 72_000,
  checkIntervalMs: 1_000,
  bodyEvictAfterMs: 1_000,
};

export interface AppDeps {
  /** VMI and NAD sources; offlineLookups() for none. No API server can run in tests: they pass fakes. */
  readonly lookups: Lookups;
  readonly metrics: WebhookMetrics;
  /** Serve HTTPS with this pair; plain HTTP without (inject() tests). */
  readonly https?: KeyPair;
  /** Components other than the lookups that are not ready yet; [] when ready. */
  readonly pending?: () => readonly string[];
  /** Destination of the JSON log lines; pino's asynchronous stdout destination (log.ts) by default. */
  readonly logStream?: LogDestination;
  /** SERVER_TIMEOUTS by default; tests shorten them. */
  readonly timeouts?: Partial<ServerTimeouts>;
}

// Routes declare no JSON schemas (zod validates the review), so fastify's default schema
// compilers, ajv and fast-json-stringify, would only add ~45 ms to start-up.
const noSchemas = () => () => {
  throw new Error('route schemas are not used by this app');
};

export function buildApp(config: AppConfig, deps: AppDeps): FastifyInstance {
  const t = { ...SERVER_TIMEOUTS, ...deps.timeouts };
  // Limits node reads only when the server is created (fastify sets the others afterwards).
  const server = { headersTimeout: t.headersMs, requestTimeout: t.requestMs, connectionsCheckingInterval: t.checkIntervalMs };
  const logStream = deps.logStream ?? createLogDestination();
  const app = Fastify({
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
    logger: { level: config.logLevel, stream: logStream },
    // One line per request is written by the route itself, with the uid and the pod.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: t.requestMs,
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    ...(deps.https === undefined
      ? { http: server }
      : { https: { ...server, ...TLS_POLICY, cert: deps.https.cert, key: deps.https.key, handshakeTimeout: t.handshakeMs } }),
  }) as unknown as FastifyInstance;

  // Lines logged until the server closed are out before close() resolves.
  app.addHook('onClose', async () => flushLog(logStream));
  // Only JSON is an AdmissionReview: without this, text/plain bodies would reach the route.
  app.removeContentTypeParser(['text/plain']);
  // The API server sends UTF-8 only. Bytes that are not UTF-8 are refused, not silently turned
  // into U+FFFD (fastify's default), so what the webhook reads is what the client sent.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const limits = { bodyLimitBytes: config.bodyLimitBytes, maxInflightBodyBytes: config.maxInflightBodyBytes, evictAfterMs: t.bodyEvictAfterMs };
  registerJsonBody(
    app,
    limits,
    (request, body, done) => {
      let text: string;
      try {
        text = utf8.decode(body);
      } catch {
        done(new WebhookError('E_REVIEW_INVALID', 'body is not valid UTF-8; expected a JSON AdmissionReview'), undefined);
        return;
      }
      parseJson(request, text, done);
    },
    (reason) => deps.metrics.bodiesRefused.inc({ reason }),
  );
  app.setErrorHandler((err, request, reply) => {
    const { body, internal } = toHttpError(err, config.bodyLimitBytes);
    // A refusal for load (503) is the webhook failing the API server, not bad input.
    if (request.url === '/mutate') deps.metrics.requests.inc({ outcome: internal || body.statusCode >= 500 ? 'error' : 'invalid' });
    request.log[internal ? 'error' : 'warn']({ code: body.code, err: internal ? err : undefined, url: request.url }, body.message);
    void reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ statusCode: 404, code: 'E_NOT_FOUND', message: `no route ${request.method} ${request.url}` });
  });

  const decision: DecisionContext = {
    controllerIdentities: config.controllerIdentities,
    bindingNames: config.bindingNames,
    sidecarImages: config.sidecarImages,
    denyForged: config.denyForged,
    kubeOvn: config.kubeOvn,
    lookupTimeoutMs: config.lookupTimeoutMs,
    maxNadLookups: config.maxNadLookups,
    lookups: deps.lookups,
    planPatch: createPlanner(config),
    version: config.version,
  };
  registerMutateRoute(app, { decision, metrics: deps.metrics, bodyLimitBytes: config.bodyLimitBytes });
  const pending = deps.pending ?? (() => []);
  // With --metrics-listen, /metrics lives on its own port only, where a NetworkPolicy can fence it.
  const registry = config.metricsListen === undefined ? deps.metrics.registry : undefined;
  registerHealthRoutes(app, () => [...pending(), ...deps.lookups.pending()], registry);
  return app;
}
