// Pure. planPatch: the JSON Patch that gives a launcher pod the vhost-user volumes and mounts.
// Only `add` ops, built directly from the pod (no clone, no diff); running it on its own output
// yields no ops. Never reads files, the clock or the network.
import type { Container, Pod, Volume } from '../admission/review.js';
import { BINDING_PLUGIN_ENV, COMPUTE_CONTAINER } from '../constants.js';
import { WebhookError } from '../errors.js';
import { pointer } from './json-pointer.js';
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
}

export type PlanPatch = (pod: Pod, podRef: string) => PlanResult;

/** The binding a sidecar serves (its literal NETWORK_BINDING_PLUGIN_NAME), if it is one. */
export function bindingPluginName(container: Container): string | undefined {
  const env = container.env;
  if (env == null) return undefined;
  for (const e of env) if (e.name === BINDING_PLUGIN_ENV && typeof e.value === 'string') return e.value;
  return undefined;
}

function findVolume(volumes: readonly Volume[] | null | undefined, name: string): Volume | undefined {
  if (volumes == null) return undefined;
  for (const v of volumes) if (v.name === name) return v;
  return undefined;
}

function conflict(message: string, details: Record<string, unknown>): PlanResult {
  return { ok: false, error: new WebhookError('E_VOLUME_CONFLICT', message, details) };
}

/**
 * Builds a planner for one configuration: the volume values are made once and shared.
 *
 * @example createPlanner({ volumes, bindingNames: ['vhostuser'] })(pod, 'ns/virt-launcher-vm-x').ok
 */
export function createPlanner(settings: PlannerSettings): PlanPatch {
  const wanted = wantedVolumes(settings.volumes);
  const podinfo = wanted.filter((w) => w.role === 'podinfo');
  const mountDirs = new Map(wanted.map((w) => [w, normalizeDir(w.mountPath)]));
  const { bindingNames } = settings;
  const inSidecars = settings.volumes.podinfo.inSidecars;

  return function planPatch(pod: Pod, podRef: string): PlanResult {
    const { containers, volumes } = pod.spec;
    if (!containers.some((c) => c.name === COMPUTE_CONTAINER)) {
      const message = `pod ${podRef}: no container named "${COMPUTE_CONTAINER}"; expected a KubeVirt virt-launcher pod`;
      return { ok: false, error: new WebhookError('E_POD_UNSUPPORTED', message) };
    }
    const mountOps: JsonPatchOp[] = [];
    // Volume names some target container mounts at our path (existing mount or one we add).
    const referenced = new Set<string>();

    for (let i = 0; i < containers.length; i++) {
      const c = containers[i] as Container;
      let roles: readonly WantedVolume[];
      if (c.name === COMPUTE_CONTAINER) roles = wanted;
      else if (inSidecars && bindingNames.includes(bindingPluginName(c) ?? '')) {
        roles = podinfo;
      } else continue;

      const mounts = c.volumeMounts;
      let arrayAdded = false;
      for (const w of roles) {
        const dir = mountDirs.get(w) as string;
        const existing = mounts?.find((m) => normalizeDir(m.mountPath) === dir);
        if (existing !== undefined) {
          if (existing.name === w.name) {
            referenced.add(w.name);
            continue;
          }
          const other = findVolume(volumes, existing.name);
          if (w.reusableUnderOtherName && other !== undefined && w.accepts(other)) continue;
          return conflict(
            `pod ${podRef}: container "${c.name}" already mounts volume "${existing.name}" at ${existing.mountPath}; ` +
              `vhost-user needs volume "${w.name}" (${w.expected}) there. Remove that mount or change --${flagPrefix(w)}-mount-path`,
            { container: c.name, volume: existing.name, mountPath: existing.mountPath },
          );
        }
        if (mounts == null && !arrayAdded) {
          mountOps.push({ op: 'add', path: pointer('spec', 'containers', i, 'volumeMounts'), value: [] });
          arrayAdded = true;
        }
        mountOps.push({ op: 'add', path: pointer('spec', 'containers', i, 'volumeMounts', '-'), value: w.mount });
        referenced.add(w.name);
      }
    }

    const volumeOps: JsonPatchOp[] = [];
    for (const w of wanted) {
      // The shared dir is looked up by name by the CNI, so it must exist even if mounted already.
      if (!referenced.has(w.name) && w.role !== 'sharedDir') continue;
      const existing = findVolume(volumes, w.name);
      if (existing !== undefined) {
        if (w.accepts(existing)) continue;
        return conflict(
          `pod ${podRef}: volume "${w.name}" already exists with a ${describeSource(existing)} source; ` +
            `vhost-user needs ${w.expected} under that name. Rename that volume or change --${flagPrefix(w)}-volume`,
          { volume: w.name, source: describeSource(existing) },
        );
      }
      if (volumes == null && volumeOps.length === 0) {
        volumeOps.push({ op: 'add', path: pointer('spec', 'volumes'), value: [] });
      }
      volumeOps.push({ op: 'add', path: pointer('spec', 'volumes', '-'), value: w.volume });
    }
    if (volumeOps.length === 0) return { ok: true, ops: mountOps };
    return { ok: true, ops: mountOps.length === 0 ? volumeOps : volumeOps.concat(mountOps) };
  };
}

/** The flag stem of a role, so messages name the setting that would resolve a conflict. */
function flagPrefix(w: WantedVolume): string {
  return w.role === 'sharedDir' ? 'shared-dir' : w.role === 'ovsRunDir' ? 'ovs-run-dir' : 'podinfo';
}
