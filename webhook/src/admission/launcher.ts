// Pure. Is this pod a genuine KubeVirt launcher pod? Only those may receive the ovs-run-dir
// hostPath (the node's OVS database socket), so all three checks must hold.
import type { OwnerReference, Pod } from './review.js';
import { LAUNCHER_LABEL_KEY, LAUNCHER_LABEL_VALUE, VMI_API_VERSIONS, VMI_KIND } from '../constants.js';

export type ForgedReason = 'owner' | 'user';

export type LauncherVerdict =
  | { readonly kind: 'not-launcher' }
  | { readonly kind: 'genuine'; readonly owner: OwnerReference }
  | { readonly kind: 'forged'; readonly reason: ForgedReason; readonly message: string };

/** The controller ownerReference to a VirtualMachineInstance, if the pod has one. */
export function vmiControllerRef(pod: Pod): OwnerReference | undefined {
  const refs = pod.metadata?.ownerReferences;
  if (refs == null) return undefined;
  for (const ref of refs) {
    if (ref.controller === true) {
      // At most one controller reference exists; if it is not a VMI, nothing else counts.
      return ref.kind === VMI_KIND && VMI_API_VERSIONS.includes(ref.apiVersion) ? ref : undefined;
    }
  }
  return undefined;
}

/**
 * Classifies the pod. `forged` carries a short message fit for an AdmissionReview warning.
 *
 * @example classifyLauncher(pod, 'system:serviceaccount:kubevirt:kubevirt-controller', ids).kind // 'genuine'
 */
export function classifyLauncher(
  pod: Pod,
  username: string | null | undefined,
  controllerIdentities: readonly string[],
): LauncherVerdict {
  if (pod.metadata?.labels?.[LAUNCHER_LABEL_KEY] !== LAUNCHER_LABEL_VALUE) return { kind: 'not-launcher' };
  const owner = vmiControllerRef(pod);
  if (owner === undefined) {
    return {
      kind: 'forged',
      reason: 'owner',
      message: `pod has label ${LAUNCHER_LABEL_KEY}=${LAUNCHER_LABEL_VALUE} but no controller ownerReference to a ${VMI_KIND}`,
    };
  }
  if (typeof username !== 'string' || !controllerIdentities.includes(username)) {
    return {
      kind: 'forged',
      reason: 'user',
      message: `pod has label ${LAUNCHER_LABEL_KEY}=${LAUNCHER_LABEL_VALUE} but was created by "${String(username ?? '')}", not by a KubeVirt controller identity`,
    };
  }
  return { kind: 'genuine', owner };
}
