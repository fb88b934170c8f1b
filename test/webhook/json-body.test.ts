// The body budget (routes/json-body.ts): its bookkeeping with a fake clock, and the parser through
// fastify's inject() for the limits a single request meets. Concurrent uploads over real HTTPS
// are in test/reliability/body-budget.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { createMetrics } from '../../webhook/src/metrics.js';
import { BodyBudget, SMALL_BODY_BYTES, type BodyHold } from '../../webhook/src/routes/json-body.js';
import { fixtureLookups, loadReview } from './fixtures.js';

const MIB = 1024 * 1024;

function budget(cap = 10 * MIB, reserve = 2 * MIB) {
  let now = 0;
  const evicted: string[] = [];
  const b = new BodyBudget(cap, reserve, 1_000, () => now);
  const open = (name: string) => b.open(() => void evicted.push(name));
  return { b, open, evicted, advance: (ms: number) => (now += ms) };
}

describe('BodyBudget', () => {
  it('holds bodies up to the cap less the reserve, and refuses the one that would go over', () => {
    const { b, open } = budget();
    const holds = [open('a'), open('b'), open('c'), open('d')];
    expect(holds.map((h) => b.take(h, 2 * MIB))).toEqual([true, true, true, true]);
    expect(b.take(open('e'), 2 * MIB)).toBe(false); // 8 MiB held: only the 2 MiB reserve is left
    expect(b.held).toBe(8 * MIB);
  });

  it('keeps the reserve for small bodies', () => {
    const { b, open } = budget();
    for (let i = 0; i < 4; i++) b.take(open(`big${i}`), 2 * MIB);
    const small = Array.from({ length: 30 }, (_, i) => b.take(open(`small${i}`), SMALL_BODY_BYTES));
    expect(small.filter(Boolean)).toHaveLength(30);
    // A body that grows past the small size leaves the reserve to the others.
    const growing = open('growing');
    expect(b.take(growing, SMALL_BODY_BYTES)).toBe(true);
    expect(b.take(growing, 1)).toBe(false);
  });

  it('cuts the oldest unfinished uploads first, and only once they are older than evictAfterMs', () => {
    const { b, open, evicted, advance } = budget(4 * MIB, 0);
    const first = open('first');
    const second = open('second');
    b.take(first, 2 * MIB);
    b.take(second, 2 * MIB);
    advance(500);
    expect(b.take(open('too-soon'), MIB)).toBe(false);
    expect(evicted).toEqual([]);
    advance(600);
    expect(b.take(open('later'), MIB)).toBe(true);
    expect(evicted).toEqual(['first']);
    expect(first.released).toBe(true);
    expect(b.held).toBe(3 * MIB);
  });

  it('never cuts a body that is complete (being decided) or the one asking', () => {
    const { b, open, evicted, advance } = budget(2 * MIB, 0);
    const done = open('done');
    b.take(done, MIB);
    done.receiving = false;
    const asking = open('asking');
    b.take(asking, MIB);
    advance(5_000);
    expect(b.take(asking, MIB)).toBe(false);
    expect(evicted).toEqual([]);
  });

  it('releases each hold once, whatever path releases it', () => {
    const { b, open } = budget();
    let calls = 0;
    const h: BodyHold = b.open(() => {}, () => void calls++);
    b.take(h, MIB);
    b.release(h);
    b.release(h);
    expect([b.held, calls, b.take(h, 1)]).toEqual([0, 1, false]);
    expect(b.take(open('next'), 8 * MIB)).toBe(true);
  });
});

describe('the JSON body parser', () => {
  const apps: ReturnType<typeof buildApp>[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  const app = (args: string[] = []) => {
    const a = buildApp(parseWebhookArgs(['--dev-cert', '--log-level', 'silent', ...args]), { lookups: fixtureLookups(), metrics: createMetrics() });
    apps.push(a);
    return a;
  };
  const review = JSON.stringify(loadReview('create-v1-binding'));

  it('answers a review within the limits', async () => {
    const res = await app().inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: review });
    expect(res.statusCode).toBe(200);
  });

  it('refuses a body over --body-limit-bytes with 413 and closes the connection', async () => {
    const res = await app(['--body-limit-bytes', '1024', '--max-inflight-body-bytes', '1024']).inject({
      method: 'POST',
      url: '/mutate',
      headers: { 'content-type': 'application/json' },
      payload: review,
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers['connection']).toBe('close');
    expect(res.json()).toEqual({ statusCode: 413, code: 'E_BODY_TOO_LARGE', message: 'body larger than 1024 bytes (--body-limit-bytes)' });
  });

  it('refuses a body that does not match its Content-Length', async () => {
    const res = await app().inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json', 'content-length': String(review.length + 10) }, payload: review });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'E_REVIEW_INVALID' });
  });
});
