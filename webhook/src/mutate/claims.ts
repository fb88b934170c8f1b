// Pure. DRA networks (KubeVirt >= 1.9, NetworkDevicesWithDRA): the kubelet mounts a claim's device
// metadata (KEP-5304) only into the containers that request the claim, and KubeVirt v1.9.0 has
// only compute request it (template.go WithNetworksDRA; hook sidecars get sidecarResources()).
// Our sidecar reads the socket path from that metadata, so it must request the same claims:
// those of the VMI's vhost-user DRA networks that compute requests. Never a claim compute lacks,
// never one of another network or device (a GPU's, say), whose devices would then enter the sidecar.
import { isVhostUserInterface } from '../../../converter/src/shared.js';
import type { Container, Pod } from '../admission/review.js';
import { COMPUTE_CONTAINER } from '../constants.js';
import type { KubeObject } from '../k8s/sources.js';
import { pointer } from './json-pointer.js';
import type { JsonPatchOp } from './plan.js';
import { ourSidecarReason, type SidecarRecognition } from './sidecar.js';
import { record } from './volumes.js';

/** A container's claim on one request of a pod claim (core/v1 ResourceClaim). */
export interface ClaimRequest {
  readonly name: string;
  readonly request: string;
}

/** What the VMI's networks say: their DRA claims, and whether any vhost-user network is not DRA. */
export interface VmiDraNetworks {
  /** The claim and request of each vhost-user interface bound to a DRA network, deduplicated. */
  readonly claims: readonly ClaimRequest[];
  /** Every vhost-user interface is on a DRA network: no CNI runs for them, so no shared dir is needed. */
  readonly draOnly: boolean;
}

/** The vhost-user DRA networks of a VMI (spec.networks[].resourceClaim), as KubeVirt renders compute's claims. */
export function vmiDraNetworks(vmi: KubeObject, bindingNames: readonly string[]): VmiDraNetworks {
  const spec = record(vmi['spec']);
  const ifaces = record(record(spec?.['domain'])?.['devices'])?.['interfaces'];
  const networks = Array.isArray(spec?.['networks']) ? (spec['networks'] as unknown[]) : [];
  const claims: ClaimRequest[] = [];
  let vhostUser = 0;
  for (const iface of Array.isArray(ifaces) ? ifaces : []) {
    if (!isVhostUserInterface(iface, bindingNames)) continue;
    vhostUser++;
    const name = record(iface)?.['name'];
    const network = networks.map(record).find((n) => n?.['name'] === name);
    const claim = record(network?.['resourceClaim']);
    const claimName = claim?.['claimName'];
    const request = claim?.['requestName'];
    if (network?.['multus'] !== undefined || typeof claimName !== 'string' || typeof request !== 'string') continue;
    if (!claims.some((c) => c.name === claimName && c.request === request)) claims.push({ name: claimName, request });
  }
  return { claims, draOnly: vhostUser > 0 && claims.length === vhostUser };
}

/** Whether the pod has DRA claims at all (spec.resourceClaims): only then can a network be DRA. */
export function hasPodClaims(pod: Pod): boolean {
  return (pod.spec.resourceClaims?.length ?? 0) > 0;
}

function requests(c: Container, claim: ClaimRequest): boolean {
  return (c.resources?.claims ?? []).some((r) => r.name === claim.name && (r.request ?? '') === claim.request);
}

/**
 * The ops that make our binding sidecar(s) request `claims`, add-only: each claim compute
 * requests and the sidecar does not yet (KubeVirt after kubevirt/kubevirt#18741 renders it
 * there itself, and then nothing is added).
 */
export function planSidecarClaims(pod: Pod, claims: readonly ClaimRequest[], recognition: SidecarRecognition): JsonPatchOp[] {
  const compute = pod.spec.containers.find((c) => c.name === COMPUTE_CONTAINER);
  const granted = compute === undefined ? [] : claims.filter((claim) => requests(compute, claim));
  const ops: JsonPatchOp[] = [];
  if (granted.length === 0) return ops;
  pod.spec.containers.forEach((c, i) => {
    if (ourSidecarReason(c, recognition) === undefined) return;
    const missing = granted.filter((claim) => !requests(c, claim));
    if (missing.length === 0) return;
    // JSON Patch cannot append into a missing object or array: create them first.
    if (c.resources == null) ops.push({ op: 'add', path: pointer('spec', 'containers', i, 'resources'), value: {} });
    if (c.resources?.claims == null) ops.push({ op: 'add', path: pointer('spec', 'containers', i, 'resources', 'claims'), value: [] });
    for (const claim of missing) ops.push({ op: 'add', path: pointer('spec', 'containers', i, 'resources', 'claims', '-'), value: { name: claim.name, request: claim.request } });
  });
  return ops;
}
