// Prometheus metrics of the webhook, prom-client's own Counter, Gauge and Histogram on a Registry
// of its own (never prom-client's global one), so several apps in one process (tests) do not
// collide. The chart's PrometheusRule and dashboard (templates/webhook-prometheusrule.yaml,
// files/dashboard.json) are written against these names.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ForgedReason } from './admission/launcher.js';
import type { KeyPairRejection } from './tls.js';
import { WEBHOOK_VERSION } from './version.js';

export type RequestOutcome = 'patched' | 'allowed' | 'warned' | 'denied' | 'invalid' | 'error';

/** Why a request body was refused before it was parsed (routes/json-body.ts). */
export type BodyRefusal = 'budget' | 'evicted' | 'too_large';

export interface WebhookMetrics {
  readonly registry: Registry;
  /** Admission requests by outcome (invalid = HTTP 4xx, error = HTTP 500 or 503). */
  readonly requests: Counter<'outcome'>;
  /** Time spent handling /mutate, body parsing excluded. */
  readonly duration: Histogram<'outcome'>;
  readonly podsPatched: Counter;
  /** Pods with the launcher label that failed the owner or user check. */
  readonly hostPathRefused: Counter<'reason'>;
  /** Bodies refused unread: the in-flight budget was full, an unfinished upload was cut for room, or over --body-limit-bytes. */
  readonly bodiesRefused: Counter<'reason'>;
  /** NADs a VMI named that were left unread because of --max-nad-lookups. */
  readonly nadsUnread: Counter;
  readonly certificateReloads: Counter<'result'>;
  /** Refused reloads by reason: expired, not_yet_valid, or invalid (not a matching PEM pair). */
  readonly certificateReloadFailures: Counter<'reason'>;
  /** notAfter of the certificate being served, in seconds since the epoch; set at start and on each reload. */
  readonly certificateExpiry: Gauge;
  /** One /mutate request handled: counted by outcome and timed. */
  recordRequest(outcome: RequestOutcome, seconds: number): void;
  /** Records the notAfter of the certificate now served. */
  setCertificateExpiry(notAfter: Date): void;
}

export interface MetricsOptions {
  /** The build_info version label; the package version by default. */
  readonly version?: string;
  /**
   * prom-client's default process_* and nodejs_* metrics (CPU, resident memory, open file
   * descriptors, heap, event loop lag, GC). runWebhook turns them on; off by default because
   * each registry that collects them starts event-loop and GC observers that live as long as
   * the process, which apps built many times in one process (tests) would pile up.
   */
  readonly processMetrics?: boolean;
}

const PREFIX = 'kubevirt_vhostuser_webhook_';

/**
 * Decisions take microseconds; lookups up to --lookup-timeout-ms. 10 and 30 s bound the API
 * server's timeoutSeconds (default 10, at most 30), so a p99 near the timeout is measurable
 * (the chart's latency alert) instead of flattening at the largest finite bucket.
 */
export const DURATION_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: MetricsOptions = {}): WebhookMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.processMetrics === true) collectDefaultMetrics({ register: registry });
  // The version as a label on a constant 1, the convention for build information, so alerts and
  // dashboards can join or group by it.
  new Gauge({ name: `${PREFIX}build_info`, help: 'Build information: the webhook version and the Node.js version it runs on; always 1', labelNames: ['version', 'nodejs_version'], registers }).set(
    { version: opts.version ?? WEBHOOK_VERSION, nodejs_version: process.versions.node },
    1,
  );
  const certificateExpiry = new Gauge({
    name: `${PREFIX}certificate_expiry_timestamp_seconds`,
    help: 'notAfter of the serving certificate in use, in seconds since the epoch; follows reloads',
    registers,
  });
  const requests = new Counter({ name: `${PREFIX}admission_requests_total`, help: 'Admission requests by outcome', labelNames: ['outcome'], registers });
  const duration = new Histogram({
    name: `${PREFIX}admission_duration_seconds`,
    help: 'Time to decide an admission request, by outcome',
    labelNames: ['outcome'],
    buckets: [...DURATION_BUCKETS],
    registers,
  });
  // Every label value from the start, at 0: a rate() or increase() over a series that appears
  // only at its first count misses that count (the chart's alerts and dashboard take them).
  const counterFromZero = <L extends string>(name: string, help: string, label: L, values: readonly string[]): Counter<L> => {
    const counter = new Counter({ name: `${PREFIX}${name}`, help, labelNames: [label], registers });
    for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
    return counter;
  };
  const bodiesRefused = counterFromZero(
    'request_bodies_refused_total',
    'Request bodies refused before parsing, by reason (budget = --max-inflight-body-bytes full, evicted = an unfinished upload cut for room, too_large = over --body-limit-bytes)',
    'reason',
    ['budget', 'evicted', 'too_large'] satisfies BodyRefusal[],
  );
  const hostPathRefused = counterFromZero(
    'hostpath_refused_total',
    'Pods with the virt-launcher label refused the ovs-run-dir hostPath, by failed check',
    'reason',
    ['owner', 'user'] satisfies ForgedReason[],
  );
  const certificateReloads = counterFromZero(
    'certificate_reloads_total',
    'Serving certificate reloads by result (rejected = files changed but not a valid pair)',
    'result',
    ['loaded', 'rejected'],
  );
  const certificateReloadFailures = counterFromZero(
    'certificate_reload_failures_total',
    'Serving certificate reloads refused, by reason (expired, not_yet_valid, invalid = not a matching PEM pair); the previous certificate stays',
    'reason',
    ['expired', 'not_yet_valid', 'invalid'] satisfies KeyPairRejection[],
  );
  return {
    registry,
    requests,
    duration,
    certificateExpiry,
    recordRequest(outcome, seconds) {
      requests.inc({ outcome });
      duration.observe({ outcome }, seconds);
    },
    setCertificateExpiry(notAfter) {
      certificateExpiry.set(notAfter.getTime() / 1000);
    },
    podsPatched: new Counter({ name: `${PREFIX}pods_patched_total`, help: 'Launcher pods given the vhost-user volumes', registers }),
    hostPathRefused,
    bodiesRefused,
    nadsUnread: new Counter({
      name: `${PREFIX}nads_unread_total`,
      help: 'NetworkAttachmentDefinitions a VMI named that were left unread because of --max-nad-lookups',
      registers,
    }),
    certificateReloads,
    certificateReloadFailures,
  };
}
