// The one log line per admission request, read back as JSON from the webhook's own pino
// destination (log.ts) writing to a temp file, after close() has flushed it.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { createLogDestination } from '../../webhook/src/log.js';
import { createMetrics } from '../../webhook/src/metrics.js';
import { fixtureLookups, loadReview, type Json } from './fixtures.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Sends each review to an app logging to a file, closes it, and returns every line written. */
async function linesFor(reviews: readonly Json[], args: readonly string[] = []): Promise<Json[]> {
  const dir = await mkdtemp(join(tmpdir(), 'admission-line-'));
  dirs.push(dir);
  const file = join(dir, 'log');
  const app = buildApp(parseWebhookArgs(['--dev-cert', ...args]), { lookups: fixtureLookups(), metrics: createMetrics(), logStream: createLogDestination(file) });
  for (const review of reviews) {
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(review) });
    expect(res.statusCode).toBe(200);
  }
  await app.close();
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Json);
}

const uidOf = (review: Json) => (review['request'] as Json)['uid'] as string;

/** What every admission line carries besides its own fields. */
const common = {
  level: 30,
  time: expect.any(Number) as number,
  pid: process.pid,
  hostname: hostname(),
  reqId: expect.any(String) as string,
  us: expect.any(Number) as number,
  msg: 'admission',
};

describe('the admission log line', () => {
  it('has ops and evidence for a patched pod, and nothing that only other outcomes carry', async () => {
    const review = loadReview('create-v1-binding');
    const [line, ...rest] = await linesFor([review]);
    expect(rest).toEqual([]);
    expect(line).toEqual({
      ...common,
      uid: uidOf(review),
      pod: expect.stringMatching(/^[a-z0-9-]+\/virt-launcher-/) as string,
      outcome: 'patched',
      ops: expect.any(Number) as number,
      evidence: expect.stringContaining('hook-sidecar') as string,
    });
    expect(line?.['ops']).toBeGreaterThan(0);
  });

  it('has the reason for an allowed pod, and the user and message for a forged one', async () => {
    const plain = loadReview('non-launcher');
    const forged = loadReview('forged-user');
    const [allowed, warned] = await linesFor([plain, forged]);
    expect(allowed).toEqual({ ...common, uid: uidOf(plain), pod: expect.any(String) as string, outcome: 'allowed', reason: 'not-launcher' });
    expect(warned).toEqual({
      ...common,
      uid: uidOf(forged),
      pod: expect.any(String) as string,
      outcome: 'warned',
      reason: 'forged',
      user: ((forged['request'] as Json)['userInfo'] as Json)['username'],
      message: expect.stringContaining('no vhost-user volumes added') as string,
    });
  });

  it('has the user and message of a denial (--deny-forged)', async () => {
    const forged = loadReview('forged-user');
    const [denied] = await linesFor([forged], ['--deny-forged']);
    expect(denied).toEqual({
      ...common,
      uid: uidOf(forged),
      pod: expect.any(String) as string,
      outcome: 'denied',
      user: ((forged['request'] as Json)['userInfo'] as Json)['username'],
      message: expect.stringContaining('(--deny-forged)') as string,
    });
  });

  it('names the operation when it is not CREATE, and dryRun when true', async () => {
    const update = loadReview('update-v1-binding');
    const dry = loadReview('create-v1-binding-dryrun');
    const [updated, dryRun] = await linesFor([update, dry]);
    expect(updated).toMatchObject({ outcome: 'allowed', operation: 'UPDATE', reason: 'not-create' });
    expect(updated).not.toHaveProperty('dryRun');
    expect(dryRun).toMatchObject({ outcome: 'patched', dryRun: true });
    expect(dryRun).not.toHaveProperty('operation');
  });

  it('keeps request strings intact, quotes and control characters included', async () => {
    const review = loadReview('non-launcher');
    const uid = 'a"b\\c\n\t\u0000\u2028é😀';
    (review['request'] as Json)['uid'] = uid;
    const [line] = await linesFor([review]);
    expect(line?.['uid']).toBe(uid);
  });

  it('is written for every request, in order, once the destination is flushed on close', async () => {
    // Enough lines for several of the destination's writes and a partial last one.
    const reviews = Array.from({ length: 200 }, (_, i) => {
      const r = loadReview('non-launcher');
      (r['request'] as Json)['uid'] = `uid-${i}`;
      return r;
    });
    const lines = await linesFor(reviews);
    expect(lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid'])).toEqual(reviews.map(uidOf));
  });

  it('is not written at --log-level warn', async () => {
    expect(await linesFor([loadReview('create-v1-binding'), loadReview('non-launcher')], ['--log-level', 'warn'])).toEqual([]);
  });
});
