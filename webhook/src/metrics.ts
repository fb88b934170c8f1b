// Prometheus metrics of the webhook, prom-client's own Counter and Histogram on a Registry of
// its own (never prom-client's global one), so several apps in one process (tests) do not collide.
import { Counter, Histogram, Registry } from 'prom-client';

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
  /** One /mutate request handled: counted by outcome and timed. */
  recordRequest(outcome: RequestOutcome, seconds: number): void;
}

const PREFIX = 'kubevirt_vhostuser_webhook_';

/** Decisions take microseconds; lookups up to --lookup-timeout-ms. */
export const DURATION_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5];

export function createMetrics(): WebhookMetrics {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: `${PREFIX}admission_requests_total`, help: 'Admission requests by outcome', labelNames: ['outcome'], registers });
  const duration = new Histogram({
    name: `${PREFIX}admission_duration_seconds`,
    help: 'Time to decide an admission request, by outcome',
    labelNames: ['outcome'],
    buckets: [...DURATION_BUCKETS],
    registers,
  });
  const bodiesRefused = new Counter({
    name: `${PREFIX}request_bodies_refused_total`,
    help: 'Request bodies refused before parsing, by reason (budget = --max-inflight-body-bytes full, evicted = an unfinished upload cut for room, too_large = over --body-limit-bytes)',
    labelNames: ['reason'],
    registers,
  });
  // Every reason from the start, at 0: a rate() over a series that appears only at the first
  // refusal misses that refusal.
  for (const reason of ['budget', 'evicted', 'too_large'] satisfies BodyRefusal[]) bodiesRefused.inc({ reason }, 0);
  return {
    registry,
    requests,
    duration,
    recordRequest(outcome, seconds) {
      requests.inc({ outcome });
      duration.observe({ outcome }, seconds);
    },
    podsPatched: new Counter({ name: `${PREFIX}pods_patched_total`, help: 'Launcher pods given the vhost-user volumes', registers }),
    hostPathRefused: new Counter({
      name: `${PREFIX}hostpath_refused_total`,
      help: 'Pods with the virt-launcher label refused the ovs-run-dir hostPath, by failed check',
      labelNames: ['reason'],
      registers,
    }),
    bodiesRefused,
    nadsUnread: new Counter({
      name: `${PREFIX}nads_unread_total`,
      help: 'NetworkAttachmentDefinitions a VMI named that were left unread because of --max-nad-lookups',
      registers,
    }),
    certificateReloads: new Counter({
      name: `${PREFIX}certificate_reloads_total`,
      help: 'Serving certificate reloads by result (rejected = files changed but not a valid pair)',
      labelNames: ['result'],
      registers,
    }),
    certificateReloadFailures: new Counter({
      name: `${PREFIX}certificate_reload_failures_total`,
      help: 'Serving certificate reloads refused, by reason (expired, not_yet_valid, invalid = not a matching PEM pair); the previous certificate stays',
      labelNames: ['reason'],
      registers,
    }),
  };
}
