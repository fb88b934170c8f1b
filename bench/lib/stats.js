// Pure. Order statistics for the bench scripts: percentiles of raw samples, medians, rounding.
// Samples are kept raw (not in a coarse histogram) so p99.9 and max are exact.

/** Nearest-rank q-quantile (0..1) of an ascending array; NaN when empty. */
function pick(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The q-quantile (0..1) of `values`, on a sorted copy. */
export function quantile(values, q) {
  return pick(Float64Array.from(values).sort(), q);
}

export function median(values) {
  return quantile(values, 0.5);
}

/** p50/p99/p99.9/max of raw samples, in their own unit. */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, p50: pick(sorted, 0.5), p99: pick(sorted, 0.99), p999: pick(sorted, 0.999), max: pick(sorted, 1) };
}

/** Rounds to `digits` significant decimals for printing without hiding small values. */
export function round(value, digits = 3) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Least-squares slope and intercept of y over x. */
export function linearFit(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  const slope = num / den;
  return { slope, intercept: my - slope * mx };
}

export const MIB = 1024 * 1024;
