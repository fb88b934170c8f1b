// Pure. planPatch: the JSON Patch that gives a launcher pod the vhost-user volumes and mounts.
// Only `add` ops, built directly from the pod (no clone, no diff); running it on its own output
// yields no ops. Never reads files, the clock or the network.
import type { Container, Pod, Volume } from '../admission/review.js';
import { COMPUTE_CONTAINER, SOCKET_DIRS_ENV } from '../constants.js';
import { WebhookError } from '../errors.js';
import { pointer } from './json-pointer.js';
import { ourSidecarReason, type ImageRef } from './sidecar.js';
import { normalizeDir, describeSource, wantedVolumes, type VolumeSettings, type WantedVolume } from './volumes.js';

export interface JsonPatchOp {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export type PlanResult =
  | { readonly ok: true; readonly ops: readonly JsonPatchOp[] }
  | { readonly ok: false; readonly error: WebhookError };

export interface PlannerSettings {
  readonly volumes: VolumeSettings;
  readonly bindingNames: readonly string[];
  /** Images our binding sidecar runs, for releases whose sidecars name no binding (< 1.9). */
  readonly sidecarImages?: readonly ImageRef[];
  /**
   * Allowed socket directories for our binding sidecar, set on it as SOCKET_DIRS_ENV; none (the
   * default) sets nothing.
   */
  readonly sidecarSocketDirs?: readonly string[];
}

export type PlanPatch = (pod: Pod, podRef: string) => PlanResult;

/** The mount at `dir` (compared without trailing slashes), if any. */
function mountAt(mounts: Container['volumeMounts'], dir: string): NonNullable<Container['volumeMounts']>[number] | undefined {
  if (mounts == null) return undefined;
  for (const m of mounts) if (normalizeDir(m.mountPath) === dir) return m;
  return undefined;
}

function findVolume(volumes: readonly Volume[] | null | undefined, name: string): Volume | undefined {
  if (volumes == null) return undefined;
  for (const v of volumes) if (v.name === name) return v;
  return undefined;
}

function conflict(message: string, details: Record<string, unknown>): WebhookError {
  return new WebhookError('E_VOLUME_CONFLICT', message, details);
}

/** How an env entry sets its value, for conflict messages. */
function describeEnvValue(e: NonNullable<Container['env']>[number]): string {
  if (e['valueFrom'] != null) return 'a valueFrom source';
  return e.value === undefined ? 'an empty value' : JSON.stringify(e.value);
}

/**
 * Plans setting `entry` on container `i`, add-only: nothing when the container already has it
 * with this value, E_ENV_CONFLICT when it has the name with another value. Returns the plan-key
 * part ('' for no ops) and, with `out`, appends the ops.
 *
 * @example planEnvVar({ name: 'c' }, 1, { name: 'A', value: 'b' }, 'ns/p', '--flag', ops) // '|e1+'
 */
export function planEnvVar(
  c: Container,
  i: number,
  entry: { readonly name: string; readonly value: string },
  podRef: string,
  flag: string,
  out?: JsonPatchOp[],
): string | WebhookError {
  const env = c.env;
  let present = false;
  if (env != null) {
    for (const e of env) {
      if (e.name !== entry.name) continue;
      // A later entry of a name overrides an earlier one, so every entry must already agree; a
      // different value is refused like a foreign volume under our name, not overwritten.
      if (e.value !== entry.value || e['valueFrom'] != null) {
        return new WebhookError(
          'E_ENV_CONFLICT',
          `pod ${podRef}: container "${c.name}" already sets ${entry.name} to ${describeEnvValue(e)}; ` +
            `vhost-user needs ${JSON.stringify(entry.value)} there. Remove that env var or change ${flag}`,
          { container: c.name, env: entry.name },
        );
      }
      present = true;
    }
  }
  if (present) return '';
  // An absent env array is created first: JSON Patch cannot append to a missing array.
  if (env == null) out?.push({ op: 'add', path: pointer('spec', 'containers', i, 'env'), value: [] });
  out?.push({ op: 'add', path: pointer('spec', 'containers', i, 'env', '-'), value: entry });
  return `|e${i}${env == null ? '+' : ''}`;
}

const NO_ROLES: readonly number[] = Object.freeze([]);
const NO_OPS: PlanResult = Object.freeze({ ok: true, ops: Object.freeze([]) });
/** Distinct plans remembered per planner; pods of one KubeVirt release share a handful. */
const MAX_PLANS = 256;

/**
 * Builds a planner for one configuration. Volume values are made once and shared, and each
 * distinct plan is built once: pods that need the same ops (same containers at the same
 * indexes, same arrays missing) get the same frozen ops array, so the hot path allocates nothing
 * for them and the response can reuse its serialized form.
 *
 * @example createPlanner({ volumes, bindingNames: ['vhostuser'] })(pod, 'ns/virt-launcher-vm-x').ok
 */
export function createPlanner(settings: PlannerSettings): PlanPatch {
  const wanted = wantedVolumes(settings.volumes);
  const dirs = wanted.map((w) => normalizeDir(w.mountPath));
  // Our sidecar reads the annotations and makes the socket links in the shared dir, at the same
  // path as compute; it never gets the OVS run directory.
  const inSidecars = settings.volumes.podinfo.inSidecars;
  const sidecarRoles = wanted.flatMap((w, k) => (w.role === 'sharedDir' || (w.role === 'podinfo' && inSidecars) ? [k] : []));
  const all = wanted.map((_, k) => k);
  const recognition = { bindingNames: settings.bindingNames, sidecarImages: settings.sidecarImages ?? [] };
  const socketDirs = settings.sidecarSocketDirs ?? [];
  const socketDirsEnv = socketDirs.length === 0 ? undefined : Object.freeze({ name: SOCKET_DIRS_ENV, value: socketDirs.join(',') });
  const plans = new Map<string, readonly JsonPatchOp[]>();

  /**
   * Walks the pod once. Returns a key naming every op the pod needs (equal keys, equal ops) or
   * the conflict; with `out`, also appends those ops to it.
   */
  function scan(pod: Pod, podRef: string, out?: JsonPatchOp[]): string | WebhookError {
    const { containers, volumes } = pod.spec;
    let mountKey = '';
    let referenced = 0; // bit k: a target container mounts wanted[k] (already or by our op)
    const mountOps: JsonPatchOp[] | undefined = out === undefined ? undefined : [];
    for (let i = 0; i < containers.length; i++) {
      const c = containers[i] as Container;
      let roles: readonly number[];
      let sidecar = false;
      if (c.name === COMPUTE_CONTAINER) roles = all;
      else if (ourSidecarReason(c, recognition) !== undefined) {
        sidecar = true;
        roles = sidecarRoles;
      } else continue;
      const mounts = c.volumeMounts;
      let started = false;
      for (const k of roles) {
        const w = wanted[k] as WantedVolume;
        const existing = mountAt(mounts, dirs[k] as string);
        if (existing !== undefined) {
          if (existing.name === w.name) referenced |= 1 << k;
          else {
            const other = findVolume(volumes, existing.name);
            if (!(w.reusableUnderOtherName && other !== undefined && w.accepts(other))) {
              return conflict(
                `pod ${podRef}: container "${c.name}" already mounts volume "${existing.name}" at ${existing.mountPath}; ` +
                  `vhost-user needs volume "${w.name}" (${w.expected}) there. Remove that mount or change --${flagPrefix(w)}-mount-path`,
                { container: c.name, volume: existing.name, mountPath: existing.mountPath },
              );
            }
          }
          continue;
        }
        if (!started) {
          mountKey += `|${i}${mounts == null ? '+' : ''}:`;
          if (mounts == null) mountOps?.push({ op: 'add', path: pointer('spec', 'containers', i, 'volumeMounts'), value: [] });
          started = true;
        }
        mountKey += k;
        referenced |= 1 << k;
        mountOps?.push({ op: 'add', path: pointer('spec', 'containers', i, 'volumeMounts', '-'), value: w.mount });
      }
      if (sidecar && socketDirsEnv !== undefined) {
        const envKey = planEnvVar(c, i, socketDirsEnv, podRef, '--sidecar-socket-dir', mountOps);
        if (typeof envKey !== 'string') return envKey;
        mountKey += envKey;
      }
    }

    let volumeKey = '';
    for (let k = 0; k < wanted.length; k++) {
      const w = wanted[k] as WantedVolume;
      // The shared dir is looked up by name by the CNI, so it must exist even if mounted already.
      if ((referenced & (1 << k)) === 0 && w.role !== 'sharedDir') continue;
      const existing = findVolume(volumes, w.name);
      if (existing !== undefined) {
        if (w.accepts(existing)) continue;
        return conflict(
          `pod ${podRef}: volume "${w.name}" already exists with a ${describeSource(existing)} source; ` +
            `vhost-user needs ${w.expected} under that name. Rename that volume or change --${flagPrefix(w)}-volume`,
          { volume: w.name, source: describeSource(existing) },
        );
      }
      if (volumeKey === '') {
        volumeKey = volumes == null ? 'v+' : 'v';
        if (volumes == null) out?.push({ op: 'add', path: pointer('spec', 'volumes'), value: [] });
      }
      volumeKey += k;
      out?.push({ op: 'add', path: pointer('spec', 'volumes', '-'), value: w.volume });
    }
    // Volumes first, then mounts (and env): a mount never names a volume the patch has not added yet.
    if (out !== undefined && mountOps !== undefined) out.push(...mountOps);
    return volumeKey + mountKey;
  }

  return function planPatch(pod: Pod, podRef: string): PlanResult {
    if (!pod.spec.containers.some((c) => c.name === COMPUTE_CONTAINER)) {
      const message = `pod ${podRef}: no container named "${COMPUTE_CONTAINER}"; expected a KubeVirt virt-launcher pod`;
      return { ok: false, error: new WebhookError('E_POD_UNSUPPORTED', message) };
    }
    const key = scan(pod, podRef);
    if (typeof key !== 'string') return { ok: false, error: key };
    if (key === '') return NO_OPS;
    let ops = plans.get(key);
    if (ops === undefined) {
      const out: JsonPatchOp[] = [];
      scan(pod, podRef, out);
      ops = Object.freeze(out.map((op) => Object.freeze(op)));
      if (plans.size < MAX_PLANS) plans.set(key, ops);
    }
    return { ok: true, ops };
  };
}

/** The flag stem of a role, so messages name the setting that would resolve a conflict. */
function flagPrefix(w: WantedVolume): string {
  return w.role === 'sharedDir' ? 'shared-dir' : w.role === 'ovsRunDir' ? 'ovs-run-dir' : 'podinfo';
}
