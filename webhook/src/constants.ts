// Pure. Names and defaults the webhook shares with KubeVirt, the userspace CNI and the converter.
// The volume defaults are those of the KubeVirt DPDK patch series the project replaces (seed 002).

/** Label every KubeVirt launcher pod carries (pkg/virt-controller/services/template.go). */
export const LAUNCHER_LABEL_KEY = 'kubevirt.io';
export const LAUNCHER_LABEL_VALUE = 'virt-launcher';

/** The container that runs libvirt and QEMU. */
export const COMPUTE_CONTAINER = 'compute';

/** Env var KubeVirt sets on a network binding plugin sidecar: the binding name it serves. */
export const BINDING_PLUGIN_ENV = 'NETWORK_BINDING_PLUGIN_NAME';

/**
 * Env var our hook sidecar reads its allowed socket directories from (comma-separated). The
 * webhook sets it because KubeVirt starts the sidecar image without arguments.
 */
export const SOCKET_DIRS_ENV = 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS';

/** Owner kinds accepted as "created by KubeVirt for a VMI". */
export const VMI_KIND = 'VirtualMachineInstance';
export const VMI_API_VERSIONS: readonly string[] = ['kubevirt.io/v1', 'kubevirt.io/v1alpha3'];

/** Multus secondary networks annotation on the pod. */
export const MULTUS_NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

export const DEFAULT_CONTROLLER_IDENTITY = 'system:serviceaccount:kubevirt:kubevirt-controller';

export const DEFAULT_VOLUMES = {
  // The userspace CNI finds the socket directory by this exact volume name.
  sharedDirVolume: 'shared-dir',
  sharedDirMountPath: '/var/lib/cni/usrcni/',
  // libvirt runs ovs-vsctl against the node's OVS database socket for interface stats.
  ovsRunDirVolume: 'ovs-run-dir',
  ovsRunDirHostPath: '/var/run/openvswitch/',
  ovsRunDirMountPath: '/var/run/openvswitch/',
  // /etc/podinfo is KubeVirt's own network-info mount; the converter reads /etc/podnetinfo.
  podinfoVolume: 'podinfo',
  podinfoMountPath: '/etc/podnetinfo',
} as const;

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';
