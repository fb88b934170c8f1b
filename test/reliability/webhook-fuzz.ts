// Fuzzing of POST /mutate, shared by test/reliability/fuzz.test.ts (a few hundred runs) and
// bench/fuzz.js (100 000, on dist/). Bodies range from raw bytes to genuine launcher pods with
// random damage; every answer must be an AdmissionReview or a 4xx JSON error, and every patch
// must apply (fast-json-patch, validating) and be idempotent. Only package imports, so Node's
// type stripping can load this file from bench/.
import fc from 'fast-check';
import fastJsonPatch, { type Operation } from 'fast-json-patch';

export type Json = Record<string, unknown>;
export type Post = (payload: string | Buffer, contentType?: string) => Promise<{ status: number; body: unknown }>;
export type Outcome = 'patched' | 'allowed' | 'denied' | 'refused-4xx';

export const CONTROLLER = 'system:serviceaccount:kubevirt:kubevirt-controller';
const OUR_NAMES = ['compute', 'hook-sidecar-0', 'shared-dir', 'ovs-run-dir', 'podinfo', 'podnetinfo', '', 'a/b', '~0~1', 'x'.repeat(300)];
const OUR_PATHS = ['/var/lib/cni/usrcni/', '/var/lib/cni/usrcni', '/var/run/openvswitch/', '/var/run/openvswitch//', '/etc/podnetinfo', '/etc/podinfo', '/', 'relative', ''];

const name = fc.oneof(fc.constantFrom(...OUR_NAMES), fc.string({ maxLength: 12 }));
const mountPath = fc.oneof(fc.constantFrom(...OUR_PATHS), fc.string({ maxLength: 12 }));
const anyJson = fc.jsonValue({ maxDepth: 3 });

const volume = fc.oneof(
  fc.record({ name, emptyDir: fc.constant({}) }),
  fc.record({ name, hostPath: fc.record({ path: mountPath, type: fc.constantFrom('Directory', 'DirectoryOrCreate', '') }, { requiredKeys: ['path'] }) }),
  fc.record({ name, configMap: fc.record({ name: fc.string({ maxLength: 8 }) }) }),
  fc.record({
    name,
    downwardAPI: fc.record({
      items: fc.array(fc.record({ path: fc.constantFrom('annotations', 'labels', 'x'), fieldRef: fc.record({ fieldPath: fc.constantFrom('metadata.annotations', 'metadata.labels') }) }), { maxLength: 3 }),
    }),
  }),
  anyJson,
);
const mount = fc.oneof(fc.record({ name, mountPath }, { requiredKeys: ['name', 'mountPath'] }), anyJson);
const env = fc.oneof(fc.record({ name: fc.constantFrom('NETWORK_BINDING_PLUGIN_NAME', 'X'), value: fc.constantFrom('vhostuser', 'other', '') }), anyJson);
const container = fc.oneof(
  fc.record(
    { name, image: fc.constant('img'), env: fc.oneof(fc.constant(null), fc.array(env, { maxLength: 3 })), volumeMounts: fc.oneof(fc.constant(null), fc.array(mount, { maxLength: 4 })) },
    { requiredKeys: ['name'] },
  ),
  anyJson,
);

/** Every path into a JSON document, as key lists (the root excluded). */
function paths(doc: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (typeof doc !== 'object' || doc === null) return out;
  for (const [k, v] of Object.entries(doc)) {
    const p = [...at, k];
    out.push(p);
    if (out.length < 400) paths(v, p, out);
  }
  return out;
}

type Mutation =
  | { readonly kind: 'set'; readonly pick: number; readonly value: unknown }
  | { readonly kind: 'delete'; readonly pick: number }
  | { readonly kind: 'containers'; readonly value: unknown[] }
  | { readonly kind: 'volumes'; readonly value: unknown[] | null }
  | { readonly kind: 'user'; readonly value: string | null };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: fc.oneof(anyJson, fc.constant(null), fc.constant([])) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('containers' as const), value: fc.array(container, { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('volumes' as const), value: fc.oneof(fc.constant(null), fc.array(volume, { maxLength: 5 })) }),
  fc.record({ kind: fc.constant('user' as const), value: fc.oneof(fc.constant(CONTROLLER), fc.constant(null), fc.string({ maxLength: 10 })) }),
);

function applyMutation(review: Json, m: Mutation): void {
  const request = review['request'];
  if (!isRecord(request)) return; // an earlier mutation replaced it
  const object = request['object'];
  const spec = (typeof object === 'object' && object !== null ? (object as Json)['spec'] : undefined) as Json | undefined;
  if (m.kind === 'containers' || m.kind === 'volumes') {
    if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) spec[m.kind] = m.value;
    return;
  }
  if (m.kind === 'user') {
    request['userInfo'] = m.value === null ? {} : { username: m.value };
    return;
  }
  const all = paths(review);
  const p = all[m.pick % Math.max(all.length, 1)];
  if (p === undefined) return;
  let parent: unknown = review;
  for (const k of p.slice(0, -1)) parent = (parent as Json)[k];
  const last = p[p.length - 1] as string;
  if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete (parent as Json)[last];
  } else (parent as Json)[last] = structuredClone(m.value);
}

/** A request body: raw bytes, arbitrary JSON, or a genuine review of one of `reviews` with random damage. */
export function bodyArbitrary(reviews: readonly Json[]): fc.Arbitrary<string | Buffer> {
  const damaged = fc.tuple(fc.constantFrom(...reviews), fc.array(mutation, { maxLength: 4 })).map(([review, ms]) => {
    const copy = structuredClone(review);
    for (const m of ms) applyMutation(copy, m);
    return JSON.stringify(copy);
  });
  const envelope = fc.record(
    { apiVersion: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1'), kind: fc.constantFrom('AdmissionReview', 'Pod'), request: anyJson },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 6, arbitrary: damaged },
    { weight: 1, arbitrary: envelope.map((e) => JSON.stringify(e)) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: damaged.chain((t) => fc.nat(t.length).map((n) => t.slice(0, n))) },
  );
}

function fail(what: string, detail: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(detail).slice(0, 600)}`);
}

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Posts `payload` and checks the answer; for a patch, applies it to the request's object with
 * fast-json-patch (validating), and admits the result again, which must add nothing.
 */
export async function checkAdmission(post: Post, payload: string | Buffer): Promise<Outcome> {
  const { status, body } = await post(payload);
  if (status >= 400 && status < 500) {
    if (!isRecord(body) || body['statusCode'] !== status || typeof body['code'] !== 'string' || !String(body['code']).startsWith('E_') || typeof body['message'] !== 'string') {
      fail(`HTTP ${status} without a JSON error`, body);
    }
    return 'refused-4xx';
  }
  if (status !== 200) fail(`HTTP ${status}`, body);
  const sent = JSON.parse(payload.toString()) as Json;
  const request = sent['request'] as Json;
  if (!isRecord(body) || body['apiVersion'] !== 'admission.k8s.io/v1' || body['kind'] !== 'AdmissionReview') fail('not an AdmissionReview', body);
  const response = body['response'];
  if (!isRecord(response) || response['uid'] !== request['uid'] || typeof response['allowed'] !== 'boolean') fail('bad response', response);
  if (response['allowed'] === false) {
    const st = response['status'];
    if (!isRecord(st) || typeof st['code'] !== 'number' || typeof st['message'] !== 'string' || 'patch' in response) fail('bad denial', response);
    return 'denied';
  }
  if (!('patch' in response)) return 'allowed';
  if (response['patchType'] !== 'JSONPatch' || typeof response['patch'] !== 'string') fail('bad patch fields', response);
  const username = isRecord(request['userInfo']) ? request['userInfo']['username'] : undefined;
  if (username !== CONTROLLER) fail('patch for a request not made by the controller', request['userInfo']);
  const ops = JSON.parse(Buffer.from(response['patch'], 'base64').toString('utf8')) as Operation[];
  if (!Array.isArray(ops) || ops.length === 0 || ops.some((op) => op.op !== 'add')) fail('patch is not a list of add ops', ops);
  const patched = structuredClone(request['object']);
  try {
    // Cloned ops: fast-json-patch inserts values by reference and appends into them later.
    fastJsonPatch.applyPatch(patched, structuredClone(ops), true);
  } catch (err) {
    fail(`patch does not apply (${(err as Error).message})`, ops);
  }
  const again = await post(JSON.stringify({ ...sent, request: { ...request, object: patched } }));
  const second = isRecord(again.body) ? again.body['response'] : undefined;
  if (again.status !== 200 || !isRecord(second) || second['allowed'] !== true || 'patch' in second) fail('second admission of the patched pod is not a plain allow', again.body);
  return 'patched';
}
