// Pure. The webhook's one error class. Each code maps to exactly one response shape, so the
// route never has to guess (see docs/webhook.md, "Error codes").

/** How a code is answered: an HTTP error, a denial inside the AdmissionReview, or the exit status. */
export type ErrorAnswer =
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'denial'; readonly status: number }
  | { readonly kind: 'exit'; readonly status: 1 | 2 };

export interface ErrorRow {
  readonly answer: ErrorAnswer;
  readonly meaning: string;
}

/**
 * Every code the webhook has, how it is answered and what it means. A code exists only as a row
 * here, so the route, the response and docs/webhook.md ("Error codes", checked by
 * test/webhook/docs.test.ts) cannot miss one.
 */
export const ERROR_CATALOGUE = {
  E_REVIEW_INVALID: { answer: { kind: 'http', status: 400 }, meaning: 'the body is not an AdmissionReview v1 we can read' },
  E_CONTENT_TYPE: { answer: { kind: 'http', status: 415 }, meaning: 'the body is not application/json' },
  E_BODY_TOO_LARGE: { answer: { kind: 'http', status: 413 }, meaning: 'the body is over --body-limit-bytes' },
  // The connection is closed too, so that an unread body stops costing memory.
  E_OVERLOADED: { answer: { kind: 'http', status: 503 }, meaning: 'bodies in flight would go over --max-inflight-body-bytes' },
  E_NOT_FOUND: { answer: { kind: 'http', status: 404 }, meaning: 'unknown path or method' },
  E_FORGED_LAUNCHER: { answer: { kind: 'denial', status: 403 }, meaning: "a launcher label without KubeVirt's owner or user, with --deny-forged" },
  E_VOLUME_CONFLICT: { answer: { kind: 'denial', status: 409 }, meaning: 'the pod already has our volume name or mount path for something else' },
  E_ENV_CONFLICT: { answer: { kind: 'denial', status: 409 }, meaning: 'our sidecar already sets an env var we set, to another value' },
  E_POD_UNSUPPORTED: { answer: { kind: 'denial', status: 422 }, meaning: 'a launcher pod without a compute container' },
  E_NAD_UNSUPPORTED: { answer: { kind: 'denial', status: 422 }, meaning: 'a Kube-OVN vhost-user NAD whose socket volume or socket name cannot be used' },
  // 500s make the API server apply the webhook's failurePolicy.
  E_LOOKUP_FAILED: { answer: { kind: 'http', status: 500 }, meaning: 'the Kubernetes API answered a lookup with an error' },
  E_LOOKUP_TIMEOUT: { answer: { kind: 'http', status: 500 }, meaning: 'a lookup took longer than --lookup-timeout-ms' },
  E_INTERNAL: { answer: { kind: 'http', status: 500 }, meaning: 'a bug; the details are in the log, never in the answer' },
  // A bad command line exits 2, bad input 1 (cli/subcommand.ts).
  E_CONFIG_INVALID: { answer: { kind: 'exit', status: 2 }, meaning: 'a bad flag' },
  E_TLS: { answer: { kind: 'exit', status: 1 }, meaning: 'the certificate or key is unreadable, not a pair, or outside its validity period' },
  E_INPUT: { answer: { kind: 'exit', status: 1 }, meaning: '`mutate`: the pod or VMI file is unreadable' },
} as const satisfies Record<`E_${string}`, ErrorRow>;

export type WebhookErrorCode = keyof typeof ERROR_CATALOGUE;

function statusesOf(kind: ErrorAnswer['kind']): Partial<Record<WebhookErrorCode, number>> {
  const rows = Object.entries(ERROR_CATALOGUE) as [WebhookErrorCode, ErrorRow][];
  return Object.fromEntries(rows.filter(([, row]) => row.answer.kind === kind).map(([code, row]) => [code, row.answer.status]));
}

/** HTTP status for the codes answered as an HTTP error (not as an AdmissionReview). */
export const HTTP_STATUS = statusesOf('http');

/** `status.code` for the codes answered as a denial (allowed:false). */
export const DENIAL_STATUS = statusesOf('denial');

/**
 * A webhook failure with a stable code. The message names the object and says what to do.
 *
 * @example new WebhookError('E_VOLUME_CONFLICT', 'pod ns/p: volume "shared-dir" is a configMap; expected emptyDir or hostPath')
 */
export class WebhookError extends Error {
  override name = 'WebhookError' as const;
  readonly code: WebhookErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: WebhookErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

export function isWebhookError(err: unknown): err is WebhookError {
  return err instanceof WebhookError;
}
