// Unfinished uploads from anyone on the pod network, over real HTTPS on 127.0.0.1. First the real
// webhook process (dist/, under the heap node picks for the chart's 256 MiB limit) with 100
// uploads of 3 MB that stall near their end: without a cap on the bytes held by unfinished
// bodies it held them all (385 MiB RSS); now it stays far below the limit and keeps answering
// real reviews. Then the rules one by one against the in-process listener, with small limits.
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_MEMORY_LIMIT_MIB, runBodyFlood } from '../../bench/body-flood.js';
import { createDevKeyPair } from '../../webhook/src/tls.js';
import { parseExposition } from '../webhook/exposition.js';
import { call } from '../webhook/https.js';
import { assertDistFresh, eventually, figure, harness, reviewOf, type Harness } from './helpers.js';

describe('the real webhook process under 100 unfinished 3 MB uploads', () => {
  it(`stays under the chart's ${CHART_MEMORY_LIMIT_MIB} MiB and answers every real review meanwhile`, async () => {
    assertDistFresh();
    const { figures, stderr } = await runBodyFlood({ uploads: 100, uploadBytes: 3_000_000, holdMs: 3_000 });
    for (const [name, value] of Object.entries(figures)) figure(name, value);
    expect(figures['flood_rss_peak_mib'], stderr).toBeLessThan(CHART_MEMORY_LIMIT_MIB);
    // 16 MiB less the quarter kept for small bodies holds four of them; the rest are refused.
    expect(figures['flood_uploads_still_held']).toBeLessThanOrEqual(4);
    expect((figures['flood_uploads_refused_503'] ?? 0) + (figures['flood_uploads_cut_unanswered'] ?? 0)).toBeGreaterThanOrEqual(96);
    expect(figures['flood_uploads_other_answer']).toBe(0);
    // Some real reviews ran during the flood (how many depends on the machine's load); all were answered.
    expect(figures['flood_reviews_sent']).toBeGreaterThanOrEqual(3);
    expect(figures['flood_reviews_patched']).toBe(figures['flood_reviews_sent']);
    expect(figures['flood_review_after_ok']).toBe(1);
  }, 60_000);
});

// 4 MiB in flight, 1 MiB per body: large bodies may hold 3 MiB, the last 1 MiB is for small ones.
const MIB = 1024 * 1024;
const EVICT_AFTER_MS = 400;
let h: Harness;
let port: number;
let ca: string;
const REVIEW = JSON.stringify(reviewOf('launcher-v1-binding'));
/** A real review padded with white space to `bytes`: still valid JSON. */
const padded = (bytes: number) => `${REVIEW}${' '.repeat(bytes - REVIEW.length)}`;

beforeAll(async () => {
  const pair = await createDevKeyPair();
  ca = pair.cert;
  h = harness(['--body-limit-bytes', String(MIB), '--max-inflight-body-bytes', String(4 * MIB)], { https: pair, timeouts: { bodyEvictAfterMs: EVICT_AFTER_MS } });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  port = (h.app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await h.close();
});

interface Upload {
  readonly socket: TLSSocket;
  /** Everything the server wrote back so far. */
  answer(): string;
  /** Resolves once the server has closed the connection. */
  readonly closed: Promise<void>;
}

/** Starts a POST of `total` declared bytes (chunked when undefined) and sends `send` of them. */
async function startUpload(send: number, total: number | undefined): Promise<Upload> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const length = total === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${total}`;
  socket.write(`POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${length}\r\n\r\n`);
  const body = padded(Math.max(send, REVIEW.length)).slice(0, send);
  socket.write(total === undefined ? `${send.toString(16)}\r\n${body}\r\n` : body);
  return { socket, answer: () => answer, closed };
}

/** request_bodies_refused_total{reason} as /metrics exposes it. */
async function refused(reason: 'budget' | 'evicted' | 'too_large'): Promise<number> {
  const res = await h.app.inject({ url: '/metrics' });
  return parseExposition(res.body).value('kubevirt_vhostuser_webhook_request_bodies_refused_total', { reason }) ?? Number.NaN;
}

/** Waits until the server holds `bytes` of bodies, however slow the machine (not a timing assertion). */
const settle = (bytes: number) =>
  new Promise<void>((resolve) => {
    const poll = () => (h.app.bodyBudget.held >= bytes ? resolve() : setTimeout(poll, 20));
    poll();
  });

describe('the body budget over HTTPS', () => {
  it('refuses at once, with 503 and Connection: close, a declared body that does not fit; cuts the oldest stalled upload when a new one needs room', async () => {
    const [budgetBefore, evictedBefore] = [await refused('budget'), await refused('evicted')];
    const stalled = [await startUpload(900_000, 1_000_000), await startUpload(900_000, 1_000_000), await startUpload(900_000, 1_000_000)];
    await settle(3 * 900_000);
    const over = await startUpload(0, 1_000_000);
    await over.closed;
    expect(over.answer()).toMatch(/^HTTP\/1\.1 503 /);
    expect(over.answer()).toMatch(/\r\nconnection: close\r\n/i);
    expect(over.answer()).toContain('body of 1000000 bytes refused: request bodies in flight would exceed 4194304 bytes (--max-inflight-body-bytes); try again');
    expect((await refused('budget')) - budgetBefore).toBe(1);

    // Once the stalled ones are older than bodyEvictAfterMs, a new upload makes room by cutting the oldest.
    await new Promise((r) => setTimeout(r, EVICT_AFTER_MS + 100));
    const next = await startUpload(1_000_000, 1_000_000);
    await stalled[0]?.closed;
    expect(stalled[0]?.answer()).toContain('body unfinished after 400 ms while the budget was full; cut');
    expect((await refused('evicted')) - evictedBefore).toBe(1);
    await new Promise<void>((resolve) => {
      const poll = () => (next.answer().includes('"patch"') ? resolve() : setTimeout(poll, 20));
      poll();
    });
    expect(next.answer()).toMatch(/^HTTP\/1\.1 200 /);
    for (const u of [...stalled, next]) u.socket.destroy();
  });

  it('counts a chunked body as it arrives and refuses it past the budget', async () => {
    const big = await startUpload(900_000, 1_000_000);
    const chunked = [await startUpload(900_000, undefined), await startUpload(900_000, undefined)];
    await settle(3 * 900_000);
    const budgetBefore = await refused('budget');
    const over = await startUpload(900_000, undefined);
    await over.closed;
    expect(over.answer()).toContain('chunked body refused');
    expect((await refused('budget')) - budgetBefore).toBe(1);
    for (const u of [big, ...chunked]) u.socket.destroy();
  });

  it('keeps a quarter for small reviews, which are answered while large uploads fill the rest', async () => {
    const stalled = [await startUpload(900_000, 1_000_000), await startUpload(900_000, 1_000_000), await startUpload(900_000, 1_000_000)];
    await settle(3 * 900_000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => call({ port, ca, servername: 'localhost', body: REVIEW })));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const u of stalled) u.socket.destroy();
  });

  it('frees what closed connections held: afterwards the whole budget is there again', async () => {
    // Three bodies that fill the large part of the budget: only possible once nothing leaked.
    const allFit = async () => {
      const answers = await Promise.all([1, 2, 3].map(() => call({ port, ca, servername: 'localhost', body: padded(1_000_000) }).catch(() => undefined)));
      return answers.every((a) => a?.status === 200);
    };
    expect(await eventually(allFit, 5_000, 100)).toBe(true);
  });
});
