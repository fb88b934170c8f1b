// The plain-array histogram against prom-client's own Histogram: for any observations, the
// exposition text of the two registries must be the same, byte for byte.
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../webhook/src/metrics.js';
import { OutcomeHistogram } from '../../webhook/src/outcome-histogram.js';

const NAME = 'test_duration_seconds';
const HELP = 'Time, by "outcome"\\ and more';
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5];

describe('OutcomeHistogram', () => {
  it('exposes what prom-client\'s Histogram exposes for the same observations', async () => {
    const observation = fc.tuple(fc.constantFrom('patched', 'allowed', 'warned', 'denied', 'invalid', 'error'), fc.double({ min: 0, max: 10, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (observations) => {
        const ours = new Registry();
        const theirs = new Registry();
        const h = new OutcomeHistogram(NAME, HELP, BUCKETS, ours);
        const ref = new Histogram({ name: NAME, help: HELP, labelNames: ['outcome'], buckets: BUCKETS, registers: [theirs] });
        for (const [outcome, seconds] of observations) {
          h.observe(outcome, seconds);
          ref.observe({ outcome }, seconds);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
    );
  });

  it('starts over on reset', async () => {
    const registry = new Registry();
    const h = new OutcomeHistogram(NAME, HELP, BUCKETS, registry);
    h.observe('patched', 0.001);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('outcome="patched"');
  });
});

describe('createMetrics().recordRequest', () => {
  it('counts requests by outcome as prom-client counts them, with direct inc() calls mixed in', async () => {
    const m = createMetrics();
    const ref = new Registry();
    const counter = new Counter({ name: 'kubevirt_vhostuser_webhook_admission_requests_total', help: 'Admission requests by outcome', labelNames: ['outcome'], registers: [ref] });
    const sequence = ['patched', 'patched', 'invalid', 'allowed', 'patched', 'error'] as const;
    for (const outcome of sequence) {
      m.recordRequest(outcome, 0.0002);
      counter.inc({ outcome });
    }
    m.requests.inc({ outcome: 'invalid' });
    counter.inc({ outcome: 'invalid' });
    const counted = async (r: Registry) => (await r.metrics()).split('\n').filter((l) => l.startsWith('kubevirt_vhostuser_webhook_admission_requests_total{')).sort();
    expect(await counted(m.registry)).toEqual(await counted(ref));
    // A second scrape adds nothing that was already counted.
    m.recordRequest('patched', 0.0002);
    counter.inc({ outcome: 'patched' });
    expect(await counted(m.registry)).toEqual(await counted(ref));
    expect(await m.registry.metrics()).toContain('kubevirt_vhostuser_webhook_admission_duration_seconds_count{outcome="patched"} 4');
  });
});
