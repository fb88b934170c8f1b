// A short soak of the real webhook process (bench/soak.js, 60 s, is the long one): requests at a
// fixed rate, VMI lookups against the HTTPS API stub (no API server can run here), the serving
// certificate rotated half-way, then SIGTERM with requests in flight. Nothing may fail or drop.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/soak.js';
import { REPO_ROOT } from '../webhook/fixtures.js';
import { figure } from './helpers.js';

/** Fails clearly when dist/ is older than the webhook sources it runs (npm test builds first). */
function assertDistFresh(): void {
  const built = join(REPO_ROOT, 'dist/webhook/src/app.js');
  const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs;
  if (builtAt === undefined) throw new Error('dist/ is missing: run `npm run build` (npm test does) before this test');
  const src = join(REPO_ROOT, 'webhook/src');
  for (const f of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > builtAt) throw new Error(`dist/ is older than webhook/src/${f}: run \`npm run build\``);
  }
}

describe('soak (short)', () => {
  it('rotates the certificate and drains on SIGTERM under load without a failed or dropped request', async () => {
    assertDistFresh();
    const { figures, failures } = await runSoak({ durationS: 6, rate: 100 });
    for (const [name, value] of Object.entries(figures)) figure(name, value);
    expect(failures).toEqual([]);
    const f = (name: string) => [name, figures[name]];
    // Nothing failed; requests were in flight at SIGTERM and all were answered; requests the
    // client still sent on its open connections after SIGTERM got no 503 and no reset (a new
    // connection being refused is fine: in a cluster it goes to another replica); the drain was
    // clean (exit 0, "stopped" with drained=true).
    const zero = ['soak_requests_failed', 'soak_dropped_inflight', 'soak_after_sigterm_503', 'soak_after_sigterm_reset', 'soak_after_sigterm_other', 'soak_exit_code'];
    expect(zero.map(f)).toEqual(zero.map((n) => [n, 0]));
    const positive = ['soak_requests_sent', 'soak_inflight_at_sigterm', 'soak_after_sigterm_sent', 'soak_stopped_drained'];
    for (const n of positive) expect(figures[n], n).toBeGreaterThan(0);
    expect(figures['soak_requests_sent']).toBeGreaterThan(500);
    // The new certificate was picked up once and served on new connections.
    expect(figures['soak_cert_reloads_logged']).toBe(1);
    expect(figures['soak_rotation_seen_after_ms']).toBeGreaterThanOrEqual(0);
    // Live heap after a full GC, from warm-up to the end. A short run carries about 2 MiB of
    // one-off growth (the rotated certificate, caches built on first use; the 60 s soak shows
    // the heap flat), so a leak of 4 kB or more per request would cross this bound.
    expect(figures['soak_heap_after_gc_growth_mib']).toBeLessThan(4);
  }, 60_000);
});
