// A Prometheus histogram with one label (the request outcome), kept as plain arrays: observing
// is an index scan and three additions. prom-client's Histogram checks and hashes the labels on
// every observe; this one hands prom-client's Registry the same values only when scraped.
import type { Histogram, Registry } from 'prom-client';

interface Series {
  readonly outcome: string;
  /** Observations per bucket, not cumulative; the last slot is above every bound (+Inf). */
  readonly counts: number[];
  sum: number;
  count: number;
}

interface Sample {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

export class OutcomeHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  // First-seen order, as prom-client lists label sets.
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
    registry: Registry,
  ) {
    this.#bounds = [...bounds].sort((a, b) => a - b);
    // The Registry reads a metric only through name, help, type, get() and reset(); its type
    // names prom-client's own classes, hence the cast.
    registry.registerMetric(this as unknown as Histogram);
  }

  observe(outcome: string, seconds: number): void {
    let s = this.#series.get(outcome);
    if (s === undefined) {
      s = { outcome, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#series.set(outcome, s);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += seconds;
    s.count++;
  }

  reset(): void {
    this.#series.clear();
  }

  /** In prom-client's shape: cumulative buckets (le first), +Inf, _sum and _count per outcome. */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, outcome: s.outcome }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', outcome: s.outcome }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { outcome: s.outcome }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { outcome: s.outcome }, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
