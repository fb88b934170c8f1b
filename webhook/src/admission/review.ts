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
  const parsed = RequestSchema.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const message = issue === undefined ? 'request: invalid' : describeIssue('request', issue);
    throw new WebhookError('E_REVIEW_INVALID', message);
  }
  return parsed.data;
}

/** Reads the Pod fields the webhook needs; throws E_REVIEW_INVALID naming the first bad field. */
export function parsePod(object: unknown, where = 'request.object'): Pod {
  const parsed = PodSchema.safeParse(object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new WebhookError('E_REVIEW_INVALID', issue === undefined ? `${where}: invalid` : describeIssue(where, issue));
  }
  return parsed.data;
}
