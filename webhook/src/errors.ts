// Pure. The webhook's one error class. Each code maps to exactly one response shape, so the
// route never has to guess (see docs/webhook.md, "Error codes").

export type WebhookErrorCode =
  | 'E_REVIEW_INVALID' // body is not an AdmissionReview v1 we can read -> HTTP 400
  | 'E_CONTENT_TYPE' // body is not application/json -> HTTP 415
  | 'E_BODY_TOO_LARGE' // body over --body-limit-bytes -> HTTP 413
  | 'E_OVERLOADED' // bodies in flight over --max-inflight-body-bytes -> HTTP 503, connection closed
  | 'E_NOT_FOUND' // unknown path or method -> HTTP 404
  | 'E_FORGED_LAUNCHER' // launcher label without KubeVirt's owner or user, with --deny-forged -> allowed:false, 403
  | 'E_VOLUME_CONFLICT' // the pod already has our volume name or mount path for something else -> allowed:false, 409
  | 'E_ENV_CONFLICT' // our sidecar already sets an env var we set, to another value -> allowed:false, 409
  | 'E_POD_UNSUPPORTED' // a launcher pod without a compute container -> allowed:false, 422
  | 'E_LOOKUP_FAILED' // the Kubernetes API answered with an error -> HTTP 500 (failurePolicy applies)
  | 'E_LOOKUP_TIMEOUT' // a lookup took longer than --lookup-timeout-ms -> HTTP 500
  | 'E_INTERNAL' // a bug -> HTTP 500
  | 'E_CONFIG_INVALID' // bad flag; the process exits non-zero
  | 'E_TLS' // certificate or key unreadable or not a pair
  | 'E_INPUT'; // `mutate`: the pod or VMI file is unreadable

/** HTTP status for the codes answered as an HTTP error (not as an AdmissionReview). */
export const HTTP_STATUS: Partial<Record<WebhookErrorCode, number>> = {
  E_REVIEW_INVALID: 400,
  E_CONTENT_TYPE: 415,
  E_BODY_TOO_LARGE: 413,
  E_OVERLOADED: 503,
  E_NOT_FOUND: 404,
  E_LOOKUP_FAILED: 500,
  E_LOOKUP_TIMEOUT: 500,
  E_INTERNAL: 500,
};

/** `status.code` for the codes answered as a denial (allowed:false). */
export const DENIAL_STATUS: Partial<Record<WebhookErrorCode, number>> = {
  E_FORGED_LAUNCHER: 403,
  E_VOLUME_CONFLICT: 409,
  E_ENV_CONFLICT: 409,
  E_POD_UNSUPPORTED: 422,
};

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
