// Pure. zod schemas for the part of an AdmissionReview v1 (and of its Pod) that the webhook reads:
// parsed once here, at the edge, and trusted as typed values everywhere after.
import { z } from 'zod';
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../constants.js';
import { WebhookError } from '../errors.js';

// The parsed values hold only the fields a decision reads (z.object drops the rest), because a
// parse allocates whatever it returns, inside the handler, where the chart's 1 MiB young
// generation turns allocation into scavenges: with loose objects copying every field, a patched
// launcher pod allocated 27.7 KiB per request and the handler p99 was 0.68-0.71 ms; without
// what nothing reads, 20.5 KiB and 0.35-0.47 ms (bench/run.js webhook, two runs each, on a 2-core
// machine 3.5 times slower than the README's). The pod as sent stays the request's `object`: the
// patch is made of indexes into it, and `mutate --apply` patches it.
const strings = z.record(z.string(), z.string());

// valueFrom is only tested for presence (plan.ts), so it is not checked further.
const EnvVar = z.object({ name: z.string(), value: z.string().optional(), valueFrom: z.unknown().optional() });
const VolumeMount = z.object({ name: z.string(), mountPath: z.string() });
const Container = z.object({
  name: z.string(),
  image: z.string().nullish(),
  env: z.array(EnvVar).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
  // DRA claims the container requests (the kubelet mounts their device metadata only there).
  resources: z.object({ claims: z.array(z.object({ name: z.string(), request: z.string().nullish() })).nullish() }).nullish(),
  // Whether it is there and its group: our sidecar's runAsGroup becomes the socket group (plan.ts).
  securityContext: z.object({ runAsGroup: z.number().nullish() }).nullish(),
});
// Loose: the source, whichever it is, is read by the role that may accept it (volumes.ts).
const Volume = z.looseObject({ name: z.string() });
const OwnerReference = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().nullish(),
});

// Annotations are never read but may hold 256 KiB: with them in this schema, a pod with 256 KiB
// of annotations took 1.2 ms and 896 KiB to parse (p50, bench/review-parse.js), over twice the
// 0.5 ms handler budget; without them 9 us and 15 KiB, near a plain launcher pod's 6 us.
export const PodSchema = z.object({
  metadata: z
    .object({
      name: z.string().nullish(),
      generateName: z.string().nullish(),
      namespace: z.string().nullish(),
      labels: strings.nullish(),
      // Not parsed (see above): the planner only needs to know whether an object is there, to
      // add its annotation to it or create it (mutate/mark.ts).
      annotations: z.unknown().optional(),
      ownerReferences: z.array(OwnerReference).nullish(),
    })
    .nullish(),
  spec: z.object({
    volumes: z.array(Volume).nullish(),
    containers: z.array(Container),
    resourceClaims: z.array(z.object({ name: z.string() })).nullish(),
  }),
});

export type Pod = z.infer<typeof PodSchema>;
export type Container = z.infer<typeof Container>;
export type Volume = z.infer<typeof Volume>;
export type OwnerReference = z.infer<typeof OwnerReference>;

const RequestSchema = z.object({
  uid: z.string().min(1, 'expected a non-empty string'),
  kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }),
  subResource: z.string().nullish(),
  operation: z.string(),
  namespace: z.string().nullish(),
  name: z.string().nullish(),
  userInfo: z.object({ username: z.string().nullish() }).nullish(),
  dryRun: z.boolean().nullish(),
  // Parsed by parsePod only when it is a Pod being created: other objects are allowed unread.
  object: z.unknown(),
});

export type AdmissionRequest = z.infer<typeof RequestSchema>;

const ReviewSchema = z.object({
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
