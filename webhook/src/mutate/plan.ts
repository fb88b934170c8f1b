// Pure. planPatch: the JSON Patch that gives a launcher pod the vhost-user volumes and mounts,
// and the annotation that records it (mark.ts). Only `add` ops, built directly from the pod (no
// clone, no diff); running it on its own output yields no ops. Never reads files, the clock or
// the network.
import type { Container, Pod, Volume } from '../admission/review.js';
import { COMPUTE_CONTAINER, SOCKET_DIRS_ENV, SOCKET_GROUP_ENV } from '../constants.js';
import { WebhookError } from '../errors.js';
import { pointer } from './json-pointer.js';
import { markOp, type PatchSummary } from './mark.js';
import { ourSidecarReason, type ImageRef, type SidecarRecognition } from './sidecar.js';
import { normalizeDir, describeSource, wantedVolumes, type VolumeRole, type VolumeSettings, type WantedVolume } from './volumes.js';

export interface JsonPatchOp {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export type PlanResult =
  | { readonly ok: true; readonly ops: readonly JsonPatchOp[]; readonly added: PatchSummary }
  | { readonly ok: false; readonly error: WebhookError };

export interface PlannerSettings {
  readonly volumes: VolumeSettings;
  /** The webhook version the annotation on patched pods names. */
  readonly version: string;
  readonly bindingNames: readonly string[];
  /** Images our binding sidecar runs, for releases whose sidecars name no binding (< 1.9). */
  readonly sidecarImages?: readonly ImageRef[];
  /**
   * Allowed socket directories for our binding sidecar, set on it as SOCKET_DIRS_ENV; none (the
   * default) sets nothing.
   */
  readonly sidecarSocketDirs?: readonly string[];
  /**
   * The socket group for a reduced-privilege OVS: set on our binding sidecar as SOCKET_GROUP_ENV
   * and as its runAsGroup (only a member may give a file to a group). None sets nothing.
   */
  readonly sidecarSocketGroup?: number;
}

/**
 * `roles`: the volumes this pod needs, when fewer than all (a pod whose vhost-user networks are
 * all Kube-OVN's needs no shared dir and no OVS run directory, only podinfo).
 */
export type PlanPatch = (pod: Pod, podRef: string, roles?: ReadonlySet<VolumeRole>) => PlanResult;

type EnvEntry = NonNullable<Container['env']>[number];

/** A container the patch mounts into: compute, or our binding sidecar. */
interface Target {
  readonly index: number;
  readonly container: Container;
  /** The wanted volumes it must mount, in patch order. */
  readonly wants: readonly WantedVolume[];
  readonly sidecar: boolean;
}

/**
 * Step 1, who gets what: compute mounts every wanted volume, our binding sidecar `forSidecar`.
 * Other containers get nothing.
 */
function targetsOf(pod: Pod, wanted: readonly WantedVolume[], forSidecar: readonly WantedVolume[], recognition: SidecarRecognition): Target[] {
  const targets: Target[] = [];
  pod.spec.containers.forEach((container, index) => {
    if (container.name === COMPUTE_CONTAINER) targets.push({ index, container, wants: wanted, sidecar: false });
    else if (ourSidecarReason(container, recognition) !== undefined) targets.push({ index, container, wants: forSidecar, sidecar: true });
  });
  return targets;
}

/**
 * Step 2, the mounts to add to one target: each wanted volume it has no mount for at the
 * volume's path (compared without trailing slashes). A mount already there is kept when it
 * names our volume, or, for a role that allows it, another volume that can serve it; anything
 * else there is E_VOLUME_CONFLICT. Adds to `mounted` each wanted volume the target mounts by
 * name, already or through these ops.
 */
function planMounts(t: Target, volumes: Pod['spec']['volumes'], podRef: string, mounted: Set<WantedVolume>): JsonPatchOp[] | WebhookError {
  const ops: JsonPatchOp[] = [];
  const mounts = t.container.volumeMounts;
  for (const w of t.wants) {
    const dir = normalizeDir(w.mountPath);
    const existing = mounts?.find((m) => normalizeDir(m.mountPath) === dir);
    if (existing === undefined) {
      // JSON Patch cannot append to a missing array: create it with the first mount.
      if (mounts == null && ops.length === 0) ops.push({ op: 'add', path: pointer('spec', 'containers', t.index, 'volumeMounts'), value: [] });
      ops.push({ op: 'add', path: pointer('spec', 'containers', t.index, 'volumeMounts', '-'), value: w.mount });
      mounted.add(w);
    } else if (existing.name === w.name) {
      mounted.add(w);
    } else {
      const other = findVolume(volumes, existing.name);
      if (!(w.reusableUnderOtherName && other !== undefined && w.accepts(other))) {
        return new WebhookError(
          'E_VOLUME_CONFLICT',
          `pod ${podRef}: container "${t.container.name}" already mounts volume "${existing.name}" at ${existing.mountPath}; ` +
            `vhost-user needs volume "${w.name}" (${w.expected}) there. Remove that mount or change --${flagPrefix(w)}-mount-path`,
          { container: t.container.name, volume: existing.name, mountPath: existing.mountPath },
        );
      }
    }
  }
  return ops;
}

/**
 * Step 3, the env to set: plans setting `entry` on container `i`, add-only: no ops when the
 * container already has it with this value, E_ENV_CONFLICT when it has the name with another.
 *
 * @example planEnvVar({ name: 'c' }, 1, { name: 'A', value: 'b' }, 'ns/p', '--flag') // [{ op: 'add', path: '/spec/containers/1/env', value: [] }, …]
 */
export function planEnvVar(
  c: Container,
  i: number,
  entry: { readonly name: string; readonly value: string },
  podRef: string,
  flag: string,
): JsonPatchOp[] | WebhookError {
  const env = c.env;
  // A later entry of a name overrides an earlier one, so every entry must already agree; a
  // different value is refused like a foreign volume under our name, not overwritten.
  const clash = env?.find((e) => e.name === entry.name && (e.value !== entry.value || e['valueFrom'] != null));
  if (clash !== undefined) {
    return new WebhookError(
      'E_ENV_CONFLICT',
      `pod ${podRef}: container "${c.name}" already sets ${entry.name} to ${describeEnvValue(clash)}; ` +
        `vhost-user needs ${JSON.stringify(entry.value)} there. Remove that env var or change ${flag}`,
      { container: c.name, env: entry.name },
    );
  }
  if (env?.some((e) => e.name === entry.name)) return [];
  const append: JsonPatchOp = { op: 'add', path: pointer('spec', 'containers', i, 'env', '-'), value: entry };
  // An absent env array is created first, as for mounts.
  return env == null ? [{ op: 'add', path: pointer('spec', 'containers', i, 'env'), value: [] }, append] : [append];
}

/**
 * Step 3b, our sidecar's primary group: `gid`, so that it may give QEMU's sockets to that group.
 * KubeVirt v1.1.0 to v1.9.0 render runAsGroup 107 there (rendercontainer.go securityContext;
 * fixtures/releases/<tag>/launcher-pod.yaml); `add` on a member that is there replaces it
 * (RFC 6902), and no op is planned when it already is `gid`.
 */
function planRunAsGroup(c: Container, i: number, gid: number): JsonPatchOp[] {
  if (c.securityContext == null) return [{ op: 'add', path: pointer('spec', 'containers', i, 'securityContext'), value: { runAsGroup: gid } }];
  if (c.securityContext.runAsGroup === gid) return [];
  return [{ op: 'add', path: pointer('spec', 'containers', i, 'securityContext', 'runAsGroup'), value: gid }];
}

/**
 * Step 4, the volumes to add: each wanted volume a target mounts by name. That includes the
 * shared dir whenever there is no conflict, since no other volume may stand in for it (the
 * userspace CNI looks it up by name). The pod's own volume of that name is kept when it can
 * serve; another source is E_VOLUME_CONFLICT.
 */
function planVolumes(
  wanted: readonly WantedVolume[],
  mounted: ReadonlySet<WantedVolume>,
  volumes: Pod['spec']['volumes'],
  podRef: string,
  added: string[],
): JsonPatchOp[] | WebhookError {
  const ops: JsonPatchOp[] = [];
  for (const w of wanted) {
    if (!mounted.has(w)) continue;
    const existing = findVolume(volumes, w.name);
    if (existing === undefined) {
      if (volumes == null && ops.length === 0) ops.push({ op: 'add', path: pointer('spec', 'volumes'), value: [] });
      ops.push({ op: 'add', path: pointer('spec', 'volumes', '-'), value: w.volume });
      added.push(w.name);
    } else if (!w.accepts(existing)) {
      return new WebhookError(
        'E_VOLUME_CONFLICT',
        `pod ${podRef}: volume "${w.name}" already exists with a ${describeSource(existing)} source; ` +
          `vhost-user needs ${w.expected} under that name. Rename that volume or change --${flagPrefix(w)}-volume`,
        { volume: w.name, source: describeSource(existing) },
      );
    }
  }
  return ops;
}

/**
 * Builds a planner for one configuration: the wanted volumes and their values are made once and
 * shared by every patch. Conflicts are reported in pod order: each target's mounts, then its
 * env, then the volumes.
 *
 * @example createPlanner({ volumes, bindingNames: ['vhostuser'] })(pod, 'ns/virt-launcher-vm-x').ok
 */
export function createPlanner(settings: PlannerSettings): PlanPatch {
  const allWanted = wantedVolumes(settings.volumes);
  // Our sidecar makes the socket links in the shared dir, at compute's path, and reads the
  // annotations from podinfo unless told not to; it never gets the OVS run directory.
  const inSidecars = settings.volumes.podinfo.inSidecars;
  const allForSidecar = allWanted.filter((w) => w.role === 'sharedDir' || (w.role === 'podinfo' && inSidecars));
  const recognition: SidecarRecognition = { bindingNames: settings.bindingNames, sidecarImages: settings.sidecarImages ?? [] };
  const socketDirs = settings.sidecarSocketDirs ?? [];
  const socketDirsEnv = socketDirs.length === 0 ? undefined : Object.freeze({ name: SOCKET_DIRS_ENV, value: socketDirs.join(',') });
  const group = settings.sidecarSocketGroup;
  const socketGroupEnv = group === undefined ? undefined : Object.freeze({ name: SOCKET_GROUP_ENV, value: String(group) });

  return function planPatch(pod: Pod, podRef: string, roles?: ReadonlySet<VolumeRole>): PlanResult {
    const wanted = roles === undefined ? allWanted : allWanted.filter((w) => roles.has(w.role));
    const forSidecar = roles === undefined ? allForSidecar : allForSidecar.filter((w) => roles.has(w.role));
    if (!pod.spec.containers.some((c) => c.name === COMPUTE_CONTAINER)) {
      const message = `pod ${podRef}: no container named "${COMPUTE_CONTAINER}"; expected a KubeVirt virt-launcher pod`;
      return { ok: false, error: new WebhookError('E_POD_UNSUPPORTED', message) };
    }
    const mounted = new Set<WantedVolume>();
    const containerOps: JsonPatchOp[] = [];
    const containers: string[] = [];
    for (const t of targetsOf(pod, wanted, forSidecar, recognition)) {
      const before = containerOps.length;
      const mounts = planMounts(t, pod.spec.volumes, podRef, mounted);
      if (mounts instanceof WebhookError) return { ok: false, error: mounts };
      containerOps.push(...mounts);
      if (t.sidecar && socketDirsEnv !== undefined) {
        const env = planEnvVar(t.container, t.index, socketDirsEnv, podRef, '--sidecar-socket-dir');
        if (env instanceof WebhookError) return { ok: false, error: env };
        containerOps.push(...env);
      }
      if (t.sidecar && group !== undefined && socketGroupEnv !== undefined) {
        const env = planEnvVar(t.container, t.index, socketGroupEnv, podRef, '--sidecar-socket-group');
        if (env instanceof WebhookError) return { ok: false, error: env };
        containerOps.push(...env, ...planRunAsGroup(t.container, t.index, group));
      }
      if (containerOps.length > before) containers.push(t.container.name);
    }
    const volumes: string[] = [];
    const volumeOps = planVolumes(wanted, mounted, pod.spec.volumes, podRef, volumes);
    if (volumeOps instanceof WebhookError) return { ok: false, error: volumeOps };
    const added: PatchSummary = { volumes, containers };
    // Volumes first, then mounts (and env): a mount never names a volume the patch has not added
    // yet. The annotation last, and only with volumes: a second call that only mounts into a
    // container added since (reinvocation) keeps the record of the first.
    if (volumeOps.length === 0) return { ok: true, ops: containerOps, added };
    return { ok: true, ops: [...volumeOps, ...containerOps, markOp(pod, settings.version, volumes)], added };
  };
}

function findVolume(volumes: readonly Volume[] | null | undefined, name: string): Volume | undefined {
  return volumes?.find((v) => v.name === name);
}

/** How an env entry sets its value, for conflict messages. */
function describeEnvValue(e: EnvEntry): string {
  if (e['valueFrom'] != null) return 'a valueFrom source';
  return e.value === undefined ? 'an empty value' : JSON.stringify(e.value);
}

/** The flag stem of a role, so messages name the setting that would resolve a conflict. */
function flagPrefix(w: WantedVolume): string {
  return w.role === 'sharedDir' ? 'shared-dir' : w.role === 'ovsRunDir' ? 'ovs-run-dir' : 'podinfo';
}
