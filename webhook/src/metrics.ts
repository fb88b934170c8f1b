// Prometheus metrics of the webhook, on a Registry of its own (never prom-client's global one),
// so several apps in one process (tests) do not collide.
import { Counter, Registry } from 'prom-client';
import { OutcomeHistogram } from './outcome-histogram.js';

export type RequestOutcome = 'patched' | 'allowed' | 'warned' | 'denied' | 'invalid' | 'error';

export interface WebhookMetrics {
  readonly registry: Registry;
  /** Admission requests by outcome (invalid = HTTP 4xx, error = HTTP 500). */
  readonly requests: Counter<'outcome'>;
  /** Time spent handling /mutate, body parsing excluded. */
  readonly duration: OutcomeHistogram;
  readonly podsPatched: Counter;
  /** Pods with the launcher label that failed the owner or user check. */
  readonly hostPathRefused: Counter<'reason'>;
  readonly certificateReloads: Counter<'result'>;
  /** Refused reloads by reason: expired, not_yet_valid, or invalid (not a matching PEM pair). */
  readonly certificateReloadFailures: Counter<'reason'>;
  /** One /mutate request handled: counted by outcome (added to `requests` when scraped) and timed. */
  recordRequest(outcome: RequestOutcome, seconds: number): void;
}

const PREFIX = 'kubevirt_vhostuser_webhook_';

export function createMetrics(): WebhookMetrics {
  const registry = new Registry();
  const registers = [registry];
  // Requests counted per outcome in plain numbers and handed to prom-client at scrape time: its
  // inc() with labels validates and hashes them, per request.
  const counted: Record<RequestOutcome, number> = { patched: 0, allowed: 0, warned: 0, denied: 0, invalid: 0, error: 0 };
  const requests = new Counter({
    name: `${PREFIX}admission_requests_total`,
    help: 'Admission requests by outcome',
    labelNames: ['outcome'],
    registers,
    collect() {
      for (const [outcome, n] of Object.entries(counted) as [RequestOutcome, number][]) {
        if (n === 0) continue;
        this.inc({ outcome }, n);
        counted[outcome] = 0;
      }
    },
  });
  // Decisions take microseconds; lookups up to --lookup-timeout-ms.
  const buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5];
  const duration = new OutcomeHistogram(`${PREFIX}admission_duration_seconds`, 'Time to decide an admission request, by outcome', buckets, registry);
  return {
    registry,
    requests,
    duration,
    recordRequest(outcome, seconds) {
      counted[outcome]++;
      duration.observe(outcome, seconds);
    },
    podsPatched: new Counter({ name: `${PREFIX}pods_patched_total`, help: 'Launcher pods given the vhost-user volumes', registers }),
    hostPathRefused: new Counter({
      name: `${PREFIX}hostpath_refused_total`,
      help: 'Pods with the virt-launcher label refused the ovs-run-dir hostPath, by failed check',
      labelNames: ['reason'],
      registers,
    }),
    certificateReloads: new Counter({
      name: `${PREFIX}certificate_reloads_total`,
      help: 'Serving certificate reloads by result (rejected = files changed but not a valid pair)',
      labelNames: ['result'],
      registers,
    }),
    // Rare (once per refused pair), so prom-client's inc() is fine here, unlike per request.
    certificateReloadFailures: new Counter({
      name: `${PREFIX}certificate_reload_failures_total`,
      help: 'Serving certificate reloads refused, by reason (expired, not_yet_valid, invalid = not a matching PEM pair); the previous certificate stays',
      labelNames: ['reason'],
      registers,
    }),
  };
}
