// Pure. What a launcher pod of Kube-OVN vhost-user networks needs (admission/kube-ovn.ts): the
// emptyDir of each network's volume, which Kube-OVN's daemon requires at CNI ADD
// (createShortSharedDir: "volume %s is not empty dir"), mounted at KUBE_OVN_SOCKETS_ROOT/<volume>/
// in compute and our sidecar, and the networks as KUBE_OVN_NETWORKS_ENV on our sidecar, which has
// no other way to learn them. Add-only, computed on the pod as the other ops leave it.
import { KUBE_OVN_NETWORKS_ENV, kubeOvnSocketDir, type KubeOvnNetwork } from '../../../converter/src/shared.js';
import type { Pod } from '../admission/review.js';
import { COMPUTE_CONTAINER } from '../constants.js';
import { WebhookError } from '../errors.js';
import { pointer } from './json-pointer.js';
import { planEnvVar, type JsonPatchOp } from './plan.js';
import { ourSidecarReason, type SidecarRecognition } from './sidecar.js';
import { describeSource, normalizeDir, record } from './volumes.js';

/** The ops, or E_VOLUME_CONFLICT / E_ENV_CONFLICT naming what stands in the way. */
export function planKubeOvn(pod: Pod, networks: readonly KubeOvnNetwork[], recognition: SidecarRecognition, podRef: string): { ops: JsonPatchOp[]; containers: string[]; volumes: string[] } | WebhookError {
  const ops: JsonPatchOp[] = [];
  const volumesAdded: string[] = [];
  const volumeNames = [...new Set(networks.map((n) => n.volume))];
  let volumes = pod.spec.volumes;
  for (const name of volumeNames) {
    const existing = volumes?.find((v) => v.name === name);
    if (existing !== undefined) {
      if (record(existing['emptyDir']) !== undefined) continue;
      return new WebhookError(
        'E_VOLUME_CONFLICT',
        `pod ${podRef}: volume "${name}" already exists with a ${describeSource(existing)} source; Kube-OVN needs an emptyDir under that name`,
        { volume: name, source: describeSource(existing) },
      );
    }
    if (volumes == null) {
      ops.push({ op: 'add', path: pointer('spec', 'volumes'), value: [] });
      volumes = [];
    }
    ops.push({ op: 'add', path: pointer('spec', 'volumes', '-'), value: { name, emptyDir: {} } });
    volumesAdded.push(name);
  }
  const containers: string[] = [];
  const env = { name: KUBE_OVN_NETWORKS_ENV, value: JSON.stringify(networks) };
  for (const [index, c] of pod.spec.containers.entries()) {
    const sidecar = ourSidecarReason(c, recognition) !== undefined;
    if (c.name !== COMPUTE_CONTAINER && !sidecar) continue;
    const before = ops.length;
    let mounts = c.volumeMounts;
    for (const name of volumeNames) {
      const dir = kubeOvnSocketDir(name);
      const existing = mounts?.find((m) => normalizeDir(m.mountPath) === normalizeDir(dir));
      if (existing?.name === name) continue;
      if (existing !== undefined) {
        return new WebhookError(
          'E_VOLUME_CONFLICT',
          `pod ${podRef}: container "${c.name}" already mounts volume "${existing.name}" at ${existing.mountPath}; Kube-OVN's socket volume "${name}" goes there`,
          { container: c.name, volume: existing.name, mountPath: existing.mountPath },
        );
      }
      if (mounts == null) {
        ops.push({ op: 'add', path: pointer('spec', 'containers', index, 'volumeMounts'), value: [] });
        mounts = [];
      }
      ops.push({ op: 'add', path: pointer('spec', 'containers', index, 'volumeMounts', '-'), value: { name, mountPath: dir } });
    }
    if (sidecar) {
      const envOps = planEnvVar(c, index, env, podRef, 'the Kube-OVN NADs');
      if (envOps instanceof WebhookError) return envOps;
      ops.push(...envOps);
    }
    if (ops.length > before) containers.push(c.name);
  }
  return { ops, containers, volumes: volumesAdded };
}
