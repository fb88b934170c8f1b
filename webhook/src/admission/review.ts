// Pure. zod schemas for the part of an AdmissionReview v1 (and of its Pod) that the webhook reads.
// Loose objects: unknown fields pass through untouched and are never re-serialized.
import { z } from 'zod';
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../constants.js';
import { WebhookError } from '../errors.js';

const strings = z.record(z.string(), z.string());

const EnvVar = z.looseObject({ name: z.string(), value: z.string().optional() });
const VolumeMount = z.looseObject({ name: z.string(), mountPath: z.string() });
const Container = z.looseObject({
  name: z.string(),
  image: z.string().nullish(),
  env: z.array(EnvVar).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
});
// Volume sources are inspected by the planner with type guards; only the name is required here.
const Volume = z.looseObject({ name: z.string() });
const OwnerReference = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().nullish(),
});

export const PodSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().nullish(),
      generateName: z.string().nullish(),
      namespace: z.string().nullish(),
      labels: strings.nullish(),
      annotations: strings.nullish(),
      ownerReferences: z.array(OwnerReference).nullish(),
    })
    .nullish(),
  spec: z.looseObject({
    volumes: z.array(Volume).nullish(),
    containers: z.array(Container),
  }),
});

export type Pod = z.infer<typeof PodSchema>;
export type Container = z.infer<typeof Container>;
export type Volume = z.infer<typeof Volume>;
export type OwnerReference = z.infer<typeof OwnerReference>;

const RequestSchema = z.looseObject({
  uid: z.string().min(1, 'expected a non-empty string'),
  kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }),
  subResource: z.string().nullish(),
  operation: z.string(),
  namespace: z.string().nullish(),
  name: z.string().nullish(),
  userInfo: z.looseObject({ username: z.string().nullish() }).nullish(),
  dryRun: z.boolean().nullish(),
  object: z.unknown(),
});

export type AdmissionRequest = z.infer<typeof RequestSchema>;

function describeIssue(prefix: string, issue: z.core.$ZodIssue): string {
  const where = [prefix, ...issue.path.map(String)].filter((s) => s !== '').join('.');
  return `${where}: ${issue.message}`;
}

/**
 * Reads an AdmissionReview v1 request body. Throws E_REVIEW_INVALID naming the first bad field.
 *
 * @example parseAdmissionReview(JSON.parse(body)).uid
 */
export function parseAdmissionReview(body: unknown): AdmissionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WebhookError('E_REVIEW_INVALID', 'body is not a JSON object; expected an AdmissionReview');
  }
  const { apiVersion, kind, request } = body as Record<string, unknown>;
  if (apiVersion !== ADMISSION_API_VERSION || kind !== ADMISSION_KIND) {
    throw new WebhookError(
      'E_REVIEW_INVALID',
      `got apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}; only ${ADMISSION_API_VERSION} ${ADMISSION_KIND} is served (set admissionReviewVersions: ["v1"])`,
    );
  }
  // The hot path checks the shape without copying; zod runs only to word the error.
  if (isRequestShape(request)) return request;
  return parseWith(RequestSchema, request, 'request');
}

/** Reads the Pod fields the webhook needs; throws E_REVIEW_INVALID naming the first bad field. */
export function parsePod(object: unknown, where = 'request.object'): Pod {
  if (isPodShape(object)) return object;
  return parseWith(PodSchema, object, where);
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new WebhookError('E_REVIEW_INVALID', issue === undefined ? `${where}: invalid` : describeIssue(where, issue));
}

// Shape guards: the zod schemas above, written out by hand. They accept exactly what the schemas
// accept (test/webhook/review.test.ts checks both on generated input) but allocate nothing,
// where a zod parse of a launcher pod copies every object it checks (~10 us per request).
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const orNull = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || v === null || ok(v);
const isStrings = (v: unknown): boolean => {
  if (!isObj(v)) return false;
  for (const k in v) if (!isStr(v[k])) return false; // no Object.values() array per pod
  return true;
};
const arrayOf = (v: unknown, ok: (v: unknown) => boolean): boolean => Array.isArray(v) && v.every(ok);

const isEnvVar = (v: unknown): boolean => isObj(v) && isStr(v['name']) && (v['value'] === undefined || isStr(v['value']));
const isMount = (v: unknown): boolean => isObj(v) && isStr(v['name']) && isStr(v['mountPath']);
const isContainer = (v: unknown): boolean =>
  isObj(v) && isStr(v['name']) && orNull(v['image'], isStr) && orNull(v['env'], (e) => arrayOf(e, isEnvVar)) && orNull(v['volumeMounts'], (m) => arrayOf(m, isMount));
const isVolume = (v: unknown): boolean => isObj(v) && isStr(v['name']);
const isOwnerRef = (v: unknown): boolean =>
  isObj(v) &&
  isStr(v['apiVersion']) &&
  isStr(v['kind']) &&
  isStr(v['name']) &&
  isStr(v['uid']) &&
  orNull(v['controller'], (c) => typeof c === 'boolean');
const isMetadata = (m: unknown): boolean =>
  isObj(m) &&
  orNull(m['name'], isStr) &&
  orNull(m['generateName'], isStr) &&
  orNull(m['namespace'], isStr) &&
  orNull(m['labels'], isStrings) &&
  orNull(m['annotations'], isStrings) &&
  orNull(m['ownerReferences'], (r) => arrayOf(r, isOwnerRef));

export function isPodShape(v: unknown): v is Pod {
  if (!isObj(v) || !orNull(v['metadata'], isMetadata)) return false;
  const spec = v['spec'];
  return isObj(spec) && orNull(spec['volumes'], (x) => arrayOf(x, isVolume)) && arrayOf(spec['containers'], isContainer);
}

export function isRequestShape(v: unknown): v is AdmissionRequest {
  if (!isObj(v) || !isStr(v['uid']) || v['uid'] === '' || !isStr(v['operation'])) return false;
  const k = v['kind'];
  if (!isObj(k) || !isStr(k['group']) || !isStr(k['version']) || !isStr(k['kind'])) return false;
  return (
    orNull(v['subResource'], isStr) &&
    orNull(v['namespace'], isStr) &&
    orNull(v['name'], isStr) &&
    orNull(v['userInfo'], (u) => isObj(u) && orNull(u['username'], isStr)) &&
    orNull(v['dryRun'], (d) => typeof d === 'boolean')
  );
}
