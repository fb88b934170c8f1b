// Pure. The part of the converter's public API that the webhook shares, without the XML half:
// the names and paths of the contract, which VMI interfaces are vhost-user, how NAD names and the
// Multus networks annotation read, and a VirtualMachine as its VMI. One rule, read by both sides.
export * from './contract.js';
export { isVhostUserInterface } from './binding.js';
export { ANNOTATION, type AnnotationKey } from './annotations/keys.js';
export { formatNadRef, isSameNad, parseNadName, type NadRef } from './annotations/nad-name.js';
export { parseNetworksAnnotation, type NetworkSelection } from './annotations/networks.js';
export { unwrapVirtualMachine } from './vmi.js';
export { KUBE_OVN_CONSUMPTION_KUBEVIRT, KubeOvnNetworkSchema, kubeOvnSocketDir, type KubeOvnNetwork } from './kube-ovn.js';
