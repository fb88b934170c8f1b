// Pure. The AdmissionReview v1 response for a decision: the request uid, a base64 JSONPatch when
// there are ops (no patch field otherwise), warnings, or allowed:false with a metav1.Status, and
// auditAnnotations saying what a patch added and why, or which check a forged pod failed.
import { ADMISSION_API_VERSION, ADMISSION_KIND } from '../constants.js';
import { DENIAL_STATUS } from '../errors.js';
import { AUDIT_KEYS, patchAuditAnnotations } from '../mutate/mark.js';
import type { JsonPatchOp } from '../mutate/plan.js';
import type { Decision } from './decide.js';

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  readonly patch?: string;
  readonly warnings?: readonly string[];
  /** Written by the API server into the request's audit event, each key prefixed with `<webhook name>/`. */
  readonly auditAnnotations?: Readonly<Record<string, string>>;
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
    const auditAnnotations = patchAuditAnnotations(decision.added, decision.evidence, decision.version);
    response = { uid, allowed: true, patchType: 'JSONPatch', patch: patchBase64(decision.ops), auditAnnotations };
  } else if (decision.kind === 'deny') {
    const code = DENIAL_STATUS[decision.error.code] ?? 403;
    response = {
      uid,
      allowed: false,
      status: { status: 'Failure', code, reason: REASONS[code] ?? 'Forbidden', message: decision.error.message },
      ...forgedAudit(decision.forged),
    };
  } else if (decision.kind === 'allow' && decision.warning !== undefined) {
    response = { uid, allowed: true, warnings: [decision.warning], ...forgedAudit(decision.forged) };
  } else {
    response = { uid, allowed: true };
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** The forged-launcher check that failed, as an audit annotation; nothing for other decisions. */
function forgedAudit(forged: string | undefined): { auditAnnotations?: Record<string, string> } {
  return forged === undefined ? {} : { auditAnnotations: { [AUDIT_KEYS.forged]: forged } };
}

/**
 * toAdmissionReview as JSON text. A patch answer is spliced from fixed parts (base64 needs no
 * escaping), sparing a JSON.stringify of the ~1.5 kB answer on every patched pod.
 */
export function admissionReviewJson(uid: string, decision: Decision): string {
  if (decision.kind === 'patch' && decision.ops.length > 0) {
    const audit = JSON.stringify(patchAuditAnnotations(decision.added, decision.evidence, decision.version));
    return `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"${ADMISSION_KIND}","response":{"uid":${JSON.stringify(uid)},"allowed":true,"patchType":"JSONPatch","patch":"${patchBase64(decision.ops)}","auditAnnotations":${audit}}}`;
  }
  return JSON.stringify(toAdmissionReview(uid, decision));
}
