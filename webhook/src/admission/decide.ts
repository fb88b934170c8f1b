// The admission decision for one request: which pods, whether they need vhost-user, and the
// patch. No I/O of its own; lookups go through the injected sources. Shared by the HTTP route
// and the offline `mutate` command so both decide alike.
import { WebhookError } from '../errors.js';
import { withDeadline, type Lookups } from '../k8s/sources.js';
import { hasPodClaims, planSidecarClaims, vmiDraNetworks } from '../mutate/claims.js';
import { isMarkOp, markOp, type PatchSummary } from '../mutate/mark.js';
import type { JsonPatchOp, PlanPatch } from '../mutate/plan.js';
import type { ImageRef } from '../mutate/sidecar.js';
import { applyAddOps } from '../mutate/apply.js';
import { planKubeOvn } from '../mutate/kube-ovn.js';
import type { VolumeRole } from '../mutate/volumes.js';
import { bindingSidecarEvidence, findVhostUserEvidence, vhostUserInterfaceName, type EvidenceResult } from './evidence.js';
import { readVhostUserNetworks } from './kube-ovn.js';
import { classifyLauncher, type ForgedReason } from './launcher.js';
import { parsePod, type AdmissionRequest, type OwnerReference, type Pod } from './review.js';

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
  /**
   * --kube-ovn: read the NADs of every pod's vhost-user networks for Kube-OVN's (admission/kube-ovn.ts),
   * at the cost of a VMI and NAD lookup per such pod.
   */
  readonly kubeOvn?: boolean;
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

  // Which of a pod's DRA claims belong to vhost-user networks, and which NADs are Kube-OVN's, only its VMI says.
  if ((hasPodClaims(pod) || ctx.kubeOvn === true) && ctx.lookups.vmi !== undefined) return decideFromVmi(req.object, pod, podRef, namespace, launcher.owner, ctx);
  return decideVolumes(pod, podRef, namespace, launcher.owner, ctx);
}

/** The volumes (and sidecar env) a launcher pod needs, on the evidence of the pod, its VMI or its NADs. */
function decideVolumes(pod: Pod, podRef: string, namespace: string, owner: OwnerReference, ctx: DecisionContext): Outcome | Promise<Outcome> {
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
  return findVhostUserEvidence(pod, namespace, owner, ctx).then(conclude);
}

/**
 * A launcher pod whose needs only its VMI (and the NADs it names) tell: DRA claims in the pod, or
 * --kube-ovn. Our sidecar must request the claims of the VMI's vhost-user DRA networks to see their
 * device metadata (mutate/claims.ts); Kube-OVN vhost-user networks need their emptyDir and our
 * sidecar their NADs' facts (mutate/kube-ovn.ts). The usual volumes go only where a network needs
 * them: the shared dir and the OVS run directory for the userspace CNI (or a NAD left unread),
 * podinfo for any Multus network; a pod of DRA networks alone gets none of them.
 */
async function decideFromVmi(raw: unknown, pod: Pod, podRef: string, namespace: string, owner: OwnerReference, ctx: DecisionContext): Promise<Outcome> {
  const vmiSource = ctx.lookups.vmi;
  const what = `VirtualMachineInstance ${namespace}/${owner.name}`;
  const ms = ctx.lookupTimeoutMs;
  const signal = AbortSignal.timeout(ms);
  const vmi = vmiSource === undefined ? undefined : await withDeadline(vmiSource.getVmi(namespace, owner.name, owner.uid, { signal }), signal, what, ms);
  const iface = vmi === undefined ? undefined : vhostUserInterfaceName(vmi, ctx.bindingNames);
  // Not a VMI of ours (or gone): the usual evidence decides, NADs of unrecognised bindings included.
  if (vmi === undefined || iface === undefined) return decideVolumes(pod, podRef, namespace, owner, ctx);
  const dra = vmiDraNetworks(vmi, ctx.bindingNames);
  const nets = ctx.kubeOvn === true ? await readVhostUserNetworks(vmi, namespace, ctx) : { kubeOvn: [], needsSharedDir: !dra.draOnly, multus: !dra.draOnly };
  if (nets instanceof WebhookError) return { decision: { kind: 'deny', error: nets }, pod: podRef, evidence: `${what} interface "${iface}" is vhost-user` };
  const recognition = { bindingNames: ctx.bindingNames, sidecarImages: ctx.sidecarImages ?? [] };
  const evidence = [
    `${what} interface "${iface}" is vhost-user`,
    ...(dra.claims.length > 0 ? [`DRA claim ${dra.claims.map((c) => `${c.name}/${c.request}`).join(', ')}`] : []),
    ...(nets.kubeOvn.length > 0 ? [`Kube-OVN NAD ${nets.kubeOvn.map((k) => k.nad).join(', ')}`] : []),
  ].join('; ');
  const roles: ReadonlySet<VolumeRole> | undefined = nets.needsSharedDir ? undefined : new Set<VolumeRole>(nets.multus ? ['podinfo'] : []);
  const plan = roles?.size === 0 ? { ok: true as const, ops: [], added: { volumes: [], containers: [] } } : ctx.planPatch(pod, podRef, roles);
  if (!plan.ok) return { decision: { kind: 'deny', error: plan.error }, pod: podRef, evidence };
  let kubeOvn: ReturnType<typeof planKubeOvn> = { ops: [], containers: [], volumes: [] };
  if (nets.kubeOvn.length > 0) {
    // On the pod as the planner's ops leave it: both may create the same arrays.
    const after = plan.ops.length === 0 ? pod : parsePod(applyAddOps(structuredClone(raw), plan.ops));
    kubeOvn = planKubeOvn(after, nets.kubeOvn, recognition, podRef);
    if (kubeOvn instanceof WebhookError) return { decision: { kind: 'deny', error: kubeOvn }, pod: podRef, evidence };
  }
  // Neither op list touches resources: the claims are planned on the pod as sent.
  const claimOps = planSidecarClaims(pod, dra.claims, recognition);
  const sidecars = claimOps.map((op) => pod.spec.containers[Number(op.path.split('/')[3])]?.name ?? '');
  const added = { volumes: [...plan.added.volumes, ...kubeOvn.volumes], containers: [...new Set([...plan.added.containers, ...kubeOvn.containers, ...sidecars])] };
  // The record names all this patch adds, so it is made here, last, in place of the planner's.
  const claims = claimOps.length === 0 ? [] : dra.claims.map((c) => `${c.name}/${c.request}`);
  const body = [...plan.ops.filter((op) => !isMarkOp(op)), ...kubeOvn.ops, ...claimOps];
  if (body.length === 0) return { decision: { kind: 'allow', reason: 'already-mutated' }, pod: podRef };
  const ops = added.volumes.length > 0 || claims.length > 0 ? [...body, markOp(pod, ctx.version, added.volumes, claims)] : body;
  return { decision: { kind: 'patch', ops, evidence, added, version: ctx.version }, pod: podRef, evidence };
}
