// The admission decision for one request: which pods, whether they need vhost-user, and the
// patch. No I/O of its own; lookups go through the injected sources. Shared by the HTTP route
// and the offline `mutate` command so both decide alike.
import { WebhookError } from '../errors.js';
import type { Lookups } from '../k8s/sources.js';
import type { PatchSummary } from '../mutate/mark.js';
import type { JsonPatchOp, PlanPatch } from '../mutate/plan.js';
import type { ImageRef } from '../mutate/sidecar.js';
import { bindingSidecarEvidence, findVhostUserEvidence, type EvidenceResult } from './evidence.js';
import { classifyLauncher, type ForgedReason } from './launcher.js';
import { parsePod, type AdmissionRequest } from './review.js';

export interface DecisionContext {
  readonly controllerIdentities: readonly string[];
  readonly bindingNames: readonly string[];
  /** Images our binding sidecar runs (mutate/sidecar.ts). */
  readonly sidecarImages?: readonly ImageRef[];
  readonly denyForged: boolean;
  readonly lookupTimeoutMs: number;
  /** NAD reads per request (--max-nad-lookups); evidence.ts's default when absent. */
  readonly maxNadLookups?: number;
  readonly lookups: Lookups;
  readonly planPatch: PlanPatch;
  /** The webhook version, for the auditAnnotations of a patch (the planner's, for the pod's annotation). */
  readonly version: string;
}

export type AllowReason = 'not-a-pod' | 'not-create' | 'not-launcher' | 'forged' | 'no-vhostuser' | 'already-mutated';

export type Decision =
  | { readonly kind: 'allow'; readonly reason: AllowReason; readonly warning?: string; readonly forged?: ForgedReason }
  | { readonly kind: 'patch'; readonly ops: readonly JsonPatchOp[]; readonly evidence: string; readonly added: PatchSummary; readonly version: string }
  | { readonly kind: 'deny'; readonly error: WebhookError; readonly forged?: ForgedReason };

export interface Outcome {
  readonly decision: Decision;
  /** `namespace/name` of the pod (generateName when the name is not set yet), for logs. */
  readonly pod?: string;
  readonly evidence?: string;
  /** NADs left unread because of --max-nad-lookups, for the metric; absent when none. */
  readonly nadsUnread?: number;
}

const ALLOW = {
  notAPod: { decision: { kind: 'allow', reason: 'not-a-pod' } },
  notCreate: { decision: { kind: 'allow', reason: 'not-create' } },
} as const satisfies Record<string, Outcome>;

/**
 * Decides one admission request. Synchronous when the pod alone settles it (the common case:
 * no promise, no microtask), a promise when it waits on a lookup. Throws or rejects only with
 * lookup errors (HTTP 500) or E_REVIEW_INVALID when the pod cannot be read (HTTP 400); policy
 * outcomes are Decisions.
 */
export function decideAdmission(req: AdmissionRequest, ctx: DecisionContext): Outcome | Promise<Outcome> {
  const k = req.kind;
  if (k.kind !== 'Pod' || k.group !== '' || (req.subResource ?? '') !== '') return ALLOW.notAPod;
  if (req.operation !== 'CREATE') return ALLOW.notCreate;

  const pod = parsePod(req.object);
  const meta = pod.metadata;
  // At CREATE the pod's own namespace is often empty and the name not generated yet.
  const namespace = meta?.namespace || req.namespace || '';
  const podRef = `${namespace}/${meta?.name || req.name || meta?.generateName || ''}`;

  const launcher = classifyLauncher(pod, req.userInfo?.username, ctx.controllerIdentities);
  if (launcher.kind === 'not-launcher') return { decision: { kind: 'allow', reason: 'not-launcher' }, pod: podRef };
  if (launcher.kind === 'forged') {
    const message = `kubevirt-vhostuser: pod ${podRef}: ${launcher.message}; no vhost-user volumes added`;
    const decision: Decision = ctx.denyForged
      ? { kind: 'deny', forged: launcher.reason, error: new WebhookError('E_FORGED_LAUNCHER', `${message} (--deny-forged)`) }
      : { kind: 'allow', reason: 'forged', forged: launcher.reason, warning: message };
    return { decision, pod: podRef };
  }

  // Planning is cheap and pure: an already-mutated pod needs no lookup at all.
  const plan = ctx.planPatch(pod, podRef);
  if (plan.ok && plan.ops.length === 0) return { decision: { kind: 'allow', reason: 'already-mutated' }, pod: podRef };

  const conclude = ({ evidence, warning, nadsUnread }: EvidenceResult): Outcome => {
    if (evidence === undefined) {
      const decision: Decision = warning === undefined ? { kind: 'allow', reason: 'no-vhostuser' } : { kind: 'allow', reason: 'no-vhostuser', warning };
      return nadsUnread === undefined ? { decision, pod: podRef } : { decision, pod: podRef, nadsUnread };
    }
    // A conflicting volume only matters for a pod that needs vhost-user.
    if (!plan.ok) return { decision: { kind: 'deny', error: plan.error }, pod: podRef, evidence };
    return { decision: { kind: 'patch', ops: plan.ops, evidence, added: plan.added, version: ctx.version }, pod: podRef, evidence };
  };
  // The pod's own evidence first, without the lookup machinery.
  const fromPod = bindingSidecarEvidence(pod, { bindingNames: ctx.bindingNames, sidecarImages: ctx.sidecarImages ?? [] });
  if (fromPod !== undefined) return conclude({ evidence: fromPod });
  return findVhostUserEvidence(pod, namespace, launcher.owner, ctx).then(conclude);
}
