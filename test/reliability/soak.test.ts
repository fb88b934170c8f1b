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
    expect(figures['soak_requests_sent']).toBeGreaterThan(500);
    expect(figures['soak_requests_failed']).toBe(0);
    // Requests were in flight at SIGTERM, and every one of them was answered.
    expect(figures['soak_inflight_at_sigterm']).toBeGreaterThan(0);
    expect(figures['soak_dropped_inflight']).toBe(0);
    // Requests the client still sent on its open connections after SIGTERM: none got a 503 or
    // a reset (a new connection being refused is fine: in a cluster it goes to another replica).
    expect(figures['soak_after_sigterm_sent']).toBeGreaterThan(0);
    expect(figures['soak_after_sigterm_503']).toBe(0);
    expect(figures['soak_after_sigterm_reset']).toBe(0);
    expect(figures['soak_after_sigterm_other']).toBe(0);
    // The new certificate was picked up and served on new connections.
    expect(figures['soak_cert_reloads_logged']).toBe(1);
    expect(figures['soak_rotation_seen_after_ms']).toBeGreaterThanOrEqual(0);
    // A clean drain: exit code 0 and the "stopped" line with drained=true.
    expect(figures['soak_exit_code']).toBe(0);
    expect(figures['soak_stopped_drained']).toBe(1);
    // Live heap after a full GC, from warm-up to the end. A short run carries about 2 MiB of
    // one-off growth (the rotated certificate, caches built on first use; the 60 s soak shows
    // the heap flat), so a leak of 4 kB or more per request would cross this bound.
    expect(figures['soak_heap_after_gc_growth_mib']).toBeLessThan(4);
  }, 60_000);
});
