// Prometheus metrics of the webhook, on a Registry of its own (never prom-client's global one),
// so several apps in one process (tests) do not collide.
import { Counter, Histogram, Registry } from 'prom-client';

export type RequestOutcome = 'patched' | 'allowed' | 'warned' | 'denied' | 'invalid' | 'error';

export interface WebhookMetrics {
  readonly registry: Registry;
  /** Admission requests by outcome (invalid = HTTP 4xx, error = HTTP 500). */
  readonly requests: Counter<'outcome'>;
  /** Time spent handling /mutate, body parsing excluded. */
  readonly duration: Histogram<'outcome'>;
  readonly podsPatched: Counter;
  /** Pods with the launcher label that failed the owner or user check. */
  readonly hostPathRefused: Counter<'reason'>;
  readonly certificateReloads: Counter<'result'>;
}

const PREFIX = 'kubevirt_vhostuser_webhook_';

export function createMetrics(): WebhookMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: `${PREFIX}admission_requests_total`, help: 'Admission requests by outcome', labelNames: ['outcome'], registers }),
    duration: new Histogram({
      name: `${PREFIX}admission_duration_seconds`,
      help: 'Time to decide an admission request, by outcome',
      labelNames: ['outcome'],
      // Decisions take microseconds; lookups up to --lookup-timeout-ms.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5],
      registers,
    }),
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
  };
}
