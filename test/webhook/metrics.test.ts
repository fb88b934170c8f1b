// GET /metrics as a scraper reads it: names, types, labels and buckets, and counts that follow
// the requests made. Refusals for the body budget: test/reliability/body-budget.test.ts; NADs
// left unread: test/reliability/nad-lookups.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { DURATION_BUCKETS, createMetrics } from '../../webhook/src/metrics.js';
import { packageVersion } from '../../cli/package.js';
import { parseExposition, type Exposition } from './exposition.js';
import { fixtureLookups, loadReview } from './fixtures.js';

const P = 'kubevirt_vhostuser_webhook_';
const opened: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((a) => a.close()));
});

function app(args: string[] = []) {
  const a = buildApp(parseWebhookArgs(['--dev-cert', ...args]), { lookups: fixtureLookups(), metrics: createMetrics(), logStream: { write: () => {} } });
  opened.push(a);
  const post = (payload: string, headers: Record<string, string> = {}) =>
    a.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json', ...headers }, payload });
  const scrape = async (): Promise<Exposition> => {
    const res = await a.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body);
  };
  return { post, scrape };
}

const patched = JSON.stringify(loadReview('create-v1-binding'));
const plain = JSON.stringify(loadReview('non-launcher'));
const forged = JSON.stringify(loadReview('forged-user'));

describe('/metrics', () => {
  it('declares every metric with its type, before any request', async () => {
    const m = await app().scrape();
    expect(Object.fromEntries(m.types)).toEqual({
      [`${P}admission_requests_total`]: 'counter',
      [`${P}admission_duration_seconds`]: 'histogram',
      [`${P}pods_patched_total`]: 'counter',
      [`${P}hostpath_refused_total`]: 'counter',
      [`${P}request_bodies_refused_total`]: 'counter',
      [`${P}nads_unread_total`]: 'counter',
      [`${P}certificate_reloads_total`]: 'counter',
      [`${P}certificate_reload_failures_total`]: 'counter',
      [`${P}certificate_expiry_timestamp_seconds`]: 'gauge',
      [`${P}build_info`]: 'gauge',
    });
    expect(m.select(`${P}build_info`)).toEqual([{ name: `${P}build_info`, labels: { version: packageVersion(), nodejs_version: process.versions.node }, value: 1 }]);
    // Labelled series appear with their first count; the refusal reasons are there at 0 from the start.
    expect(m.select(`${P}admission_requests_total`)).toEqual([]);
    expect(m.value(`${P}pods_patched_total`)).toBe(0);
    expect(m.value(`${P}nads_unread_total`)).toBe(0);
    for (const reason of ['budget', 'evicted', 'too_large']) expect(m.value(`${P}request_bodies_refused_total`, { reason })).toBe(0);
    for (const reason of ['owner', 'user']) expect(m.value(`${P}hostpath_refused_total`, { reason })).toBe(0);
    for (const result of ['loaded', 'rejected']) expect(m.value(`${P}certificate_reloads_total`, { result })).toBe(0);
    for (const reason of ['expired', 'not_yet_valid', 'invalid']) expect(m.value(`${P}certificate_reload_failures_total`, { reason })).toBe(0);
  });

  it('counts requests by outcome, and the counts follow each new request', async () => {
    const a = app();
    await a.post(patched);
    await a.post(patched);
    await a.post(plain);
    await a.post('{');
    let m = await a.scrape();
    const requests = (outcome: string) => m.value(`${P}admission_requests_total`, { outcome });
    expect([requests('patched'), requests('allowed'), requests('invalid'), requests('error')]).toEqual([2, 1, 1, undefined]);
    expect(m.value(`${P}pods_patched_total`)).toBe(2);

    await a.post(patched);
    await a.post(forged);
    m = await a.scrape();
    expect([requests('patched'), requests('allowed'), requests('warned'), requests('invalid')]).toEqual([3, 1, 1, 1]);
    expect(m.value(`${P}pods_patched_total`)).toBe(3);
    expect(m.value(`${P}hostpath_refused_total`, { reason: 'user' })).toBe(1);
  });

  it('times each decided request in the histogram of its outcome, with the documented buckets', async () => {
    const a = app();
    for (let i = 0; i < 3; i++) await a.post(patched);
    await a.post(plain);
    const m = await a.scrape();
    const name = `${P}admission_duration_seconds`;
    const buckets = m.select(`${name}_bucket`, { outcome: 'patched' });
    expect(buckets.map((b) => b.labels['le'])).toEqual([...DURATION_BUCKETS.map(String), '+Inf']);
    // Cumulative: each bucket holds at least the one below it, and +Inf holds them all.
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]?.value).toBeGreaterThanOrEqual(buckets[i - 1]?.value ?? Infinity);
    expect(buckets.at(-1)?.value).toBe(3);
    expect(m.value(`${name}_count`, { outcome: 'patched' })).toBe(3);
    expect(m.value(`${name}_sum`, { outcome: 'patched' })).toBeGreaterThan(0);
    expect(m.value(`${name}_count`, { outcome: 'allowed' })).toBe(1);
    // A request refused before the handler (bad JSON) is counted, not timed: body parsing is excluded.
    await a.post('{');
    const after = await a.scrape();
    expect(after.value(`${P}admission_requests_total`, { outcome: 'invalid' })).toBe(1);
    expect(after.value(`${name}_count`, { outcome: 'invalid' })).toBeUndefined();
  });

  it('counts a body refused for its declared size as too_large', async () => {
    const a = app(['--body-limit-bytes', '2048', '--max-inflight-body-bytes', '4096']);
    const res = await a.post(' '.repeat(3000) + plain);
    expect(res.statusCode).toBe(413);
    const m = await a.scrape();
    expect(m.value(`${P}request_bodies_refused_total`, { reason: 'too_large' })).toBe(1);
    expect(m.value(`${P}request_bodies_refused_total`, { reason: 'budget' })).toBe(0);
    expect(m.value(`${P}admission_requests_total`, { outcome: 'invalid' })).toBe(1);
  });
});
