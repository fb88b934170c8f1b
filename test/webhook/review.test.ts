// The hand-written shape guards must accept exactly what the zod schemas accept: checked on the
// fixtures and on generated corruptions of them (a value replaced or removed at a random path).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PodSchema, isPodShape, isRequestShape, parseAdmissionReview, parsePod } from '../../webhook/src/admission/review.js';
import { loadReview, podNames, loadPod, type Json } from './fixtures.js';

// The request schema, as parseAdmissionReview applies it after the apiVersion/kind check.
const requestAccepted = (request: unknown): boolean => {
  try {
    parseAdmissionReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
    return true;
  } catch {
    return false;
  }
};

/** Every path to a value inside `v` (object keys and array indices). */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== 'object' || v === null) return [prefix];
  const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return [prefix, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...prefix, k]))];
}

function withValueAt(doc: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(doc);
  if (path.length === 0) return value;
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (value === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = value;
  return copy;
}

const jsonValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 3 }),
  fc.constant([]),
  fc.constant({}),
  fc.constant([{ name: 'x' }]),
  fc.constant({ name: 'x', mountPath: '/x' }),
);

function corruptions(base: Json) {
  const all = paths(base);
  return fc.tuple(fc.constantFrom(...all), jsonValue).map(([path, value]) => withValueAt(base, path, value));
}

describe('shape guards agree with the zod schemas', () => {
  it.each(podNames())('pod %s', (name) => {
    expect(isPodShape(loadPod(name))).toBe(true);
  });

  it('on corrupted pods', () => {
    const arb = fc.oneof(...podNames().map((n) => corruptions(loadPod(n))));
    fc.assert(fc.property(arb, (pod) => isPodShape(pod) === PodSchema.safeParse(pod).success), { numRuns: 1500 });
  });

  it('on corrupted requests', () => {
    const request = loadReview('create-v1-binding')['request'] as Json;
    const { object: _object, ...envelope } = request;
    fc.assert(fc.property(corruptions(envelope), (r) => isRequestShape(r) === requestAccepted(r)), { numRuns: 1000 });
  });

  it('reports the first bad field through zod when the guard refuses', () => {
    const pod = loadPod('launcher-v1-binding') as { spec: { containers: { env: unknown[] }[] } };
    pod.spec.containers[1]?.env.push({ name: 'X', value: 42 });
    expect(() => parsePod(pod)).toThrow(expect.objectContaining({ code: 'E_REVIEW_INVALID', message: expect.stringMatching(/^request\.object\.spec\.containers\.1\.env\.2\.value: /) }));
  });

  it('returns the pod itself, not a copy', () => {
    const pod = loadPod('launcher-v1-binding');
    expect(parsePod(pod)).toBe(pod);
  });
});
