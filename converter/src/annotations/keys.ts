// Pure. The pod annotation keys the converter reads, in one place.

export const ANNOTATION = {
  /** Multus: result of every attachment (JSON list). */
  networkStatus: 'k8s.v1.cni.cncf.io/network-status',
  /** Deprecated twin of networkStatus, still written by older Multus releases. */
  networksStatus: 'k8s.v1.cni.cncf.io/networks-status',
  /** Multus: the attachments requested (JSON list or `ns/name@iface` comma list). */
  networks: 'k8s.v1.cni.cncf.io/networks',
  /** Userspace CNI: one JSON element per interface it added. */
  configurationData: 'userspace/configuration-data',
  /** Userspace CNI: mount path of the `shared-dir` volume inside the pod. */
  mappedDir: 'userspace/mapped-dir',
  /** Legacy spelling of mappedDir, set by hand in the userspace CNI examples. */
  mappedDirLegacy: 'userspace/mappedDir',
  /** KubeVirt >= 1.3: device-info per VMI network, for binding plugins. */
  networkInfo: 'kubevirt.io/network-info',
} as const;

export type AnnotationKey = (typeof ANNOTATION)[keyof typeof ANNOTATION];
