// Pure. Maps any error reaching the HTTP layer to a status and a JSON body. Messages of
// unexpected errors never reach the client (no stack, no internals): they go to the log only.
import { HTTP_STATUS, isWebhookError, type WebhookErrorCode } from '../errors.js';

export interface HttpErrorBody {
  readonly statusCode: number;
  readonly code: WebhookErrorCode;
  readonly message: string;
}

// fastify's own body errors: https://fastify.dev/docs/latest/Reference/Errors/
const FASTIFY_CODES: Record<string, { status: number; code: WebhookErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'E_CONTENT_TYPE', message: 'content-type must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'E_REVIEW_INVALID' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'E_BODY_TOO_LARGE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'E_REVIEW_INVALID', message: 'empty body; expected an AdmissionReview' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'E_REVIEW_INVALID' },
};

/** Status and body for an error; `internal` is true when the message was withheld. */
export function toHttpError(err: unknown, bodyLimitBytes: number): { body: HttpErrorBody; internal: boolean } {
  if (isWebhookError(err)) {
    const status = HTTP_STATUS[err.code];
    if (status !== undefined) return { body: { statusCode: status, code: err.code, message: err.message }, internal: false };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
  const known = typeof e.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
  if (known !== undefined) {
    const message =
      known.code === 'E_BODY_TOO_LARGE'
        ? `body larger than ${bodyLimitBytes} bytes (--body-limit-bytes)`
        : (known.message ?? `body is not valid JSON: ${String(e.message)}`);
    return { body: { statusCode: known.status, code: known.code, message }, internal: false };
  }
  // JSON syntax errors from the body parser arrive as SyntaxError with statusCode 400.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { body: { statusCode: e.statusCode, code: 'E_REVIEW_INVALID', message: String(e.message) }, internal: false };
  }
  return { body: { statusCode: 500, code: 'E_INTERNAL', message: 'internal error; see the webhook log' }, internal: true };
}
