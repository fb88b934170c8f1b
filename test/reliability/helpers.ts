// Shared by the reliability tests: an inject()-able webhook app, AdmissionReviews built from the
// pod fixtures, and figure(), which prints `name: value` lines (console.* would fail the test).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp, type AppDeps } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import type { Lookups } from '../../webhook/src/k8s/sources.js';
import { createMetrics, type WebhookMetrics } from '../../webhook/src/metrics.js';
import { KUBEVIRT_CONTROLLER, REPO_ROOT, buildReview, fixtureLookups, loadPod, type Json } from '../webhook/fixtures.js';

export { KUBEVIRT_CONTROLLER, type Json };

/** One `name: value` line on stdout, for the figures a run reports. */
export function figure(name: string, value: string | number): void {
  process.stdout.write(`${name}: ${value}\n`);
}

export interface Harness {
  readonly app: ReturnType<typeof buildApp>;
  readonly metrics: WebhookMetrics;
  readonly logs: Json[];
  post(payload: string | Buffer, contentType?: string): Promise<{ status: number; body: unknown; raw: string }>;
  close(): Promise<void>;
}

/** The webhook app with fixture lookups (or `lookups`), served through inject(). */
export function harness(args: readonly string[] = [], deps: Partial<AppDeps> = {}): Harness {
  const logs: Json[] = [];
  const metrics = createMetrics();
  const lookups: Lookups = deps.lookups ?? fixtureLookups();
  const app = buildApp(parseWebhookArgs(['--dev-cert', ...args]), {
    metrics,
    logStream: { write: (line) => void logs.push(JSON.parse(line) as Json) },
    ...deps,
    lookups,
  });
  return {
    app,
    metrics,
    logs,
    async post(payload, contentType = 'application/json') {
      const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': contentType }, payload });
      let body: unknown;
      try {
        body = JSON.parse(res.body);
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, body, raw: res.body };
    },
    close: async () => void (await app.close()),
  };
}

export interface ReviewOptions {
  readonly user?: string | null;
  readonly operation?: string;
  readonly dryRun?: boolean;
  readonly namespace?: string;
}

/** An AdmissionReview for `pod` (a fixture name or an object), as the API server would send it. */
export function reviewOf(pod: string | Json, o: ReviewOptions = {}): Json {
  const object = typeof pod === 'string' ? loadPod(pod) : pod;
  const review = buildReview('reliability', {
    pod: 'launcher-v1-binding',
    object,
    user: o.user ?? KUBEVIRT_CONTROLLER,
    namespace: o.namespace ?? 'tests',
    ...(o.dryRun === undefined ? {} : { dryRun: o.dryRun }),
  });
  const request = review['request'] as Json;
  if (o.operation !== undefined) request['operation'] = o.operation;
  if (o.user === null) request['userInfo'] = { groups: ['system:authenticated'] };
  return review;
}

/** The JSON Patch ops of an AdmissionReview response, [] when it carries none. */
export function patchOps(body: unknown): Json[] {
  const response = (body as { response?: { patch?: unknown } } | undefined)?.response;
  if (typeof response?.patch !== 'string') return [];
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Json[];
}

/** Does any op hand out a hostPath volume (the node's OVS run directory or anything else)? */
export function grantsHostPath(ops: readonly Json[]): boolean {
  return JSON.stringify(ops).includes('"hostPath"');
}

/** Polls `done` until it holds or `ms` pass; returns whether it held. Not a timing assertion. */
export async function eventually(done: () => boolean | Promise<boolean>, ms = 15_000, stepMs = 50): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return done();
}

/** Fails clearly when dist/ is missing or older than the webhook sources the real process runs. */
export function assertDistFresh(): void {
  const built = join(REPO_ROOT, 'dist/webhook/src/app.js');
  const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs;
  if (builtAt === undefined) throw new Error('dist/ is missing: run `npm run build` (npm test does) before this test');
  const src = join(REPO_ROOT, 'webhook/src');
  for (const f of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > builtAt) throw new Error(`dist/ is older than webhook/src/${f}: run \`npm run build\``);
  }
}
