// Pure. The AdmissionReview v1 response for a decision: the request uid, a base64 JSONPatch when
// there are ops (no patch field otherwise), warnings, or allowed:false with a metav1.Status.
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../constants.js';
import { DENIAL_STATUS } from '../errors.js';
import type { JsonPatchOp } from '../mutate/plan.js';
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

/** The `response.patch` value: base64 of the JSON ops. */
export function patchBase64(ops: readonly JsonPatchOp[]): string {
  return Buffer.from(JSON.stringify(ops)).toString('base64');
}

/**
 * @example toAdmissionReview('705ab4f5-…', { kind: 'patch', ops, evidence: '…' }).response.patchType // 'JSONPatch'
 */
export function toAdmissionReview(uid: string, decision: Decision): AdmissionReviewResponse {
  let response: AdmissionResponse;
  if (decision.kind === 'patch' && decision.ops.length > 0) {
    response = { uid, allowed: true, patchType: 'JSONPatch', patch: patchBase64(decision.ops) };
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

/**
 * toAdmissionReview as JSON text. A patch answer is spliced from fixed parts (base64 needs no
 * escaping), sparing a JSON.stringify of the ~1.5 kB answer on every patched pod.
 */
export function admissionReviewJson(uid: string, decision: Decision): string {
  if (decision.kind === 'patch' && decision.ops.length > 0) {
    return `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"${ADMISSION_KIND}","response":{"uid":${JSON.stringify(uid)},"allowed":true,"patchType":"JSONPatch","patch":"${patchBase64(decision.ops)}"}}`;
  }
  return JSON.stringify(toAdmissionReview(uid, decision));
}
