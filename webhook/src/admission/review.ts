// Pure. zod schemas for the part of an AdmissionReview v1 (and of its Pod) that the webhook reads:
// parsed once here, at the edge, and trusted as typed values everywhere after.
// Loose objects: unknown fields pass through by reference, unchecked, and are never re-serialized.
import { z } from 'zod';
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../constants.js';
import { WebhookError } from '../errors.js';

const strings = z.record(z.string(), z.string());

// valueFrom is only tested for presence (plan.ts), so the loose object carries it unchecked.
const EnvVar = z.looseObject({ name: z.string(), value: z.string().optional() });
const VolumeMount = z.looseObject({ name: z.string(), mountPath: z.string() });
const Container = z.looseObject({
  name: z.string(),
  image: z.string().nullish(),
  env: z.array(EnvVar).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
});
// A volume's source is read by the role that may accept it (volumes.ts): only the name is common.
const Volume = z.looseObject({ name: z.string() });
const OwnerReference = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().nullish(),
});

// Only the fields a decision reads. zod copies every object it checks (a loose object key by key),
// and annotations are never read but may hold 256 KiB: with them in this schema, a pod with
// 256 KiB of annotations took 1.2 ms and 896 KiB to parse (p50, bench/review-parse.js), over
// twice the 0.5 ms handler budget; without them 7.5 us and 22 KiB, as a plain launcher pod
// (8 us, 15 KiB). The patch is built from indexes, so the copy never reaches the answer, and
// `mutate --apply` patches the pod as it was read.
export const PodSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: z.string().nullish(),
      generateName: z.string().nullish(),
      namespace: z.string().nullish(),
      labels: strings.nullish(),
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
  // Parsed by parsePod only when it is a Pod being created: other objects are allowed unread.
  object: z.unknown(),
});

export type AdmissionRequest = z.infer<typeof RequestSchema>;

const ReviewSchema = z.looseObject({
  apiVersion: z.literal(ADMISSION_API_VERSION),
  kind: z.literal(ADMISSION_KIND),
  request: RequestSchema,
});

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
  const parsed = ReviewSchema.safeParse(body);
  if (parsed.success) return parsed.data.request;
  const { issues } = parsed.error;
  // The envelope's own failures get sentences that say what to change, not zod's wording.
  if (issues.some((i) => i.path.length === 0)) {
    throw new WebhookError('E_REVIEW_INVALID', 'body is not a JSON object; expected an AdmissionReview');
  }
  if (issues.some((i) => i.path[0] === 'apiVersion' || i.path[0] === 'kind')) {
    const { apiVersion, kind } = body as Record<string, unknown>;
    throw new WebhookError(
      'E_REVIEW_INVALID',
      `got apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}; only ${ADMISSION_API_VERSION} ${ADMISSION_KIND} is served (set admissionReviewVersions: ["v1"])`,
    );
  }
  throw invalid('', issues[0]);
}

/** Reads the Pod fields the webhook needs; throws E_REVIEW_INVALID naming the first bad field. */
export function parsePod(object: unknown, where = 'request.object'): Pod {
  const parsed = PodSchema.safeParse(object);
  if (parsed.success) return parsed.data;
  throw invalid(where, parsed.error.issues[0]);
}

function invalid(where: string, issue: z.core.$ZodIssue | undefined): WebhookError {
  return new WebhookError('E_REVIEW_INVALID', issue === undefined ? `${where || 'body'}: invalid` : describeIssue(where, issue));
}
