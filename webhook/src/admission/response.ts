// Pure. The AdmissionReview v1 response for a decision: the request uid, a base64 JSONPatch when
// there are ops (no patch field otherwise), warnings, or allowed:false with a metav1.Status.
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../constants.js';
import { DENIAL_STATUS } from '../errors.js';
import { serializePatch } from '../mutate/serialize.js';
import type { Decision } from './decide.js';

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  readonly patch?: string;
  readonly warnings?: readonly string[];
  readonly status?: { readonly status: 'Failure'; readonly code: number; readonly reason: string; readonly message: string };
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: typeof ADMISSION_KIND;
  readonly response: AdmissionResponse;
}

const REASONS: Record<number, string> = { 403: 'Forbidden', 409: 'Conflict', 422: 'Invalid' };

/**
 * @example toAdmissionReview('705ab4f5-…', { kind: 'patch', ops, evidence: '…' }).response.patchType // 'JSONPatch'
 */
export function toAdmissionReview(uid: string, decision: Decision): AdmissionReviewResponse {
  let response: AdmissionResponse;
  if (decision.kind === 'patch' && decision.ops.length > 0) {
    const patch = Buffer.from(serializePatch(decision.ops)).toString('base64');
    response = { uid, allowed: true, patchType: 'JSONPatch', patch };
  } else if (decision.kind === 'deny') {
    const code = DENIAL_STATUS[decision.error.code] ?? 403;
    response = {
      uid,
      allowed: false,
      status: { status: 'Failure', code, reason: REASONS[code] ?? 'Forbidden', message: decision.error.message },
    };
  } else if (decision.kind === 'allow' && decision.warning !== undefined) {
    response = { uid, allowed: true, warnings: [decision.warning] };
  } else {
    response = { uid, allowed: true };
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}
