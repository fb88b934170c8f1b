// Pure. What a patch added, said twice: on the pod, as one annotation that `kubectl get pod -o
// yaml` shows (which webhook version mutated it, and which volumes it added), and in the
// AdmissionResponse's auditAnnotations, which the API server writes into the audit event of the
// request (what was added, on which evidence).
//
// The annotation is a record, never an input: nothing reads it back to decide anything. A VMI
// owner can put any annotation on the launcher pod (KubeVirt copies VMI annotations onto it), so
// the webhook decides "already mutated" from the volumes alone, and every patch that adds volumes
// sets the annotation with an `add` op, which replaces whatever value the pod brought.
import type { Pod } from '../admission/review.js';
import { pointer } from './json-pointer.js';
import type { JsonPatchOp } from './plan.js';
import { record } from './volumes.js';

/** The annotation every patched pod carries. */
export const MUTATION_ANNOTATION = 'kubevirt-vhostuser.io/mutation';

/** What one patch added: volume names, and the containers given mounts (or env). */
export interface PatchSummary {
  readonly volumes: readonly string[];
  readonly containers: readonly string[];
}

/**
 * The annotation's value: compact JSON, e.g. {"webhook":"0.1.0","volumes":["shared-dir","ovs-run-dir","podinfo"]};
 * `claims` (DRA claims given to our sidecar, `claim/request`) only when there are any.
 */
export function mutationAnnotationValue(version: string, volumes: readonly string[], claims: readonly string[] = []): string {
  return JSON.stringify({ webhook: version, volumes, ...(claims.length > 0 ? { claims } : {}) });
}

/**
 * The op that sets MUTATION_ANNOTATION: into the pod's annotations when it has them (replacing
 * a value of that key), else as a new annotations object (a new metadata when there is none).
 */
export function markOp(pod: Pod, version: string, volumes: readonly string[], claims: readonly string[] = []): JsonPatchOp {
  const value = mutationAnnotationValue(version, volumes, claims);
  const meta = pod.metadata;
  if (meta == null) return { op: 'add', path: pointer('metadata'), value: { annotations: { [MUTATION_ANNOTATION]: value } } };
  if (record(meta.annotations) === undefined) return { op: 'add', path: pointer('metadata', 'annotations'), value: { [MUTATION_ANNOTATION]: value } };
  return { op: 'add', path: pointer('metadata', 'annotations', MUTATION_ANNOTATION), value };
}

/** Whether `op` is a markOp: the only ops of a patch that touch the pod's metadata. */
export function isMarkOp(op: JsonPatchOp): boolean {
  return op.path === '/metadata' || op.path.startsWith('/metadata/');
}

/**
 * Keys of the auditAnnotations this webhook sets. The API server prefixes each with the
 * webhook's name and a `/`, and drops (with a warning in its log) any that is then not a
 * qualified name: so each is a name part of at most 63 characters of [A-Za-z0-9_.-], starting
 * and ending alphanumeric, without a `/`.
 */
export const AUDIT_KEYS = {
  volumes: 'volumes-added',
  containers: 'containers-mounted',
  evidence: 'vhostuser-evidence',
  version: 'webhook-version',
  forged: 'forged-launcher',
} as const;

/** The auditAnnotations of a patch: the volumes and containers it touched, the evidence and the version. */
export function patchAuditAnnotations(summary: PatchSummary, evidence: string, version: string): Record<string, string> {
  return {
    [AUDIT_KEYS.volumes]: summary.volumes.join(','),
    [AUDIT_KEYS.containers]: summary.containers.join(','),
    [AUDIT_KEYS.evidence]: evidence,
    [AUDIT_KEYS.version]: version,
  };
}
