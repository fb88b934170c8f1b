// Pure. Names and defaults the webhook shares with KubeVirt, the userspace CNI and the converter.
// The volume defaults are those of the KubeVirt DPDK patch series the project replaces (seed 002).
import { ANNOTATION, PODINFO_DIR, SHARED_DIR, SHARED_DIR_VOLUME } from '../../converter/src/shared.js';

/** Label every KubeVirt launcher pod carries (pkg/virt-controller/services/template.go). */
export const LAUNCHER_LABEL_KEY = 'kubevirt.io';
export const LAUNCHER_LABEL_VALUE = 'virt-launcher';

/** The container that runs libvirt and QEMU. */
export const COMPUTE_CONTAINER = 'compute';

/** What the webhook mounts and sets is what the sidecar reads: one definition (converter/src/contract.ts). */
export { BINDING_NAME_ENV as BINDING_PLUGIN_ENV, DEFAULT_BINDING_NAMES, SOCKET_DIRS_ENV, SOCKET_GROUP_ENV, socketDirProblem, socketGroupProblem } from '../../converter/src/shared.js';

/** Owner kinds accepted as "created by KubeVirt for a VMI". */
export const VMI_KIND = 'VirtualMachineInstance';
export const VMI_API_VERSIONS: readonly string[] = ['kubevirt.io/v1', 'kubevirt.io/v1alpha3'];

/** Multus secondary networks annotation on the pod. */
export const MULTUS_NETWORKS_ANNOTATION = ANNOTATION.networks;

export const DEFAULT_CONTROLLER_IDENTITY = 'system:serviceaccount:kubevirt:kubevirt-controller';

export const DEFAULT_VOLUMES = {
  sharedDirVolume: SHARED_DIR_VOLUME,
  sharedDirMountPath: SHARED_DIR,
  // libvirt runs ovs-vsctl against the node's OVS database socket for interface stats.
  ovsRunDirVolume: 'ovs-run-dir',
  ovsRunDirHostPath: '/var/run/openvswitch/',
  ovsRunDirMountPath: '/var/run/openvswitch/',
  // /etc/podinfo is KubeVirt's own network-info mount; the converter reads /etc/podnetinfo.
  podinfoVolume: 'podinfo',
  podinfoMountPath: PODINFO_DIR,
} as const;

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';
