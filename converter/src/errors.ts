// Pure. The converter's one error class: every failure carries a code, where it happened (which
// annotation, which VMI interface, which line) and a hint saying what to do about it.

export type ConverterErrorCode =
  | 'E_PODINFO_SYNTAX' // a line of the downward-API file is not key="quoted value"
  | 'E_PODINFO_READ' // the annotations file or directory cannot be read
  | 'E_ANNOTATION_JSON' // an annotation is not JSON
  | 'E_ANNOTATION_SCHEMA' // an annotation is JSON of the wrong shape
  | 'E_VMI_INVALID' // the VMI is not a VirtualMachineInstance we can read
  | 'E_NETWORK_NOT_FOUND' // a VMI interface names a network the VMI does not define
  | 'E_NOT_MULTUS' // a vhost-user interface is bound to a network that is neither a Multus nor a DRA network
  | 'E_DRA_CLAIM' // a DRA network's resourceClaim names no claim of the VMI, or names that cannot be paths
  | 'E_DRA_METADATA' // the DRA device metadata of a claim's request is absent, unreadable or malformed
  | 'E_POD_INTERFACE_NOT_FOUND' // no pod interface for the network in the pod's annotations
  | 'E_SOCKET_NOT_FOUND' // neither device-info nor userspace configuration-data gives a socket
  | 'E_SOCKET_PATH' // socket path too long, malformed, outside the allowed directories, or an OVS control file
  | 'E_SOCKET_LINK' // the link between the CNI's socket name and the stable one cannot be made
  | 'E_SOCKET_GROUP' // the socket group cannot reach a socket directory, or this process cannot give sockets to it
  | 'E_ANNOTATION_UNTRUSTED' // the only socket source is an annotation the VMI owner wrote (it stands in the VMI too)
  | 'E_MODE' // a vhost-user mode that cannot be mapped to libvirt's
  | 'E_MAC' // a MAC address in the wrong format
  | 'E_PCI_CONFLICT' // a VMI pciAddress that another device of the domain already uses
  | 'E_QUEUE_SIZE' // rx/tx queue size not a power of two in [256, 1024]
  | 'E_DOMAIN_XML' // the domain XML cannot be parsed or has no <devices>
  | 'E_MEMORY_PRIVATE' // the domain asks for private memory, vhost-user needs shared
  | 'E_TIMEOUT' // the CNI annotations did not appear in time
  | 'E_CONFIG'; // a converter setting is out of range

export interface ConverterErrorDetails {
  /** VMI interface name, when the error concerns one interface. */
  readonly iface?: string;
  /** Annotation key, when the error concerns one annotation. */
  readonly annotation?: string;
  /** DRA claim (the VMI's spec.resourceClaims[].name) and request, when the error concerns one. */
  readonly claim?: string;
  readonly request?: string;
  /** File path, when the error concerns a file. */
  readonly file?: string;
  /** 1-based line number within `file`. */
  readonly line?: number;
  /** What the user can do about it. */
  readonly hint?: string;
  /** VMI interfaces still missing (E_TIMEOUT). */
  readonly missing?: readonly string[];
}

/**
 * A converter failure with a stable code. `message` already names the place; `details` carries
 * the same facts as data for callers that render them differently (the CLI, the hook sidecar).
 *
 * @example new ConverterError('E_MAC', "interface 'dpdk0': MAC 'zz' is not six hex octets", { iface: 'dpdk0' })
 */
export class ConverterError extends Error {
  override name = 'ConverterError' as const;
  readonly code: ConverterErrorCode;
  readonly details: ConverterErrorDetails;

  constructor(code: ConverterErrorCode, message: string, details: ConverterErrorDetails = {}, options?: ErrorOptions) {
    super(details.hint === undefined ? message : `${message} (hint: ${details.hint})`, options);
    this.code = code;
    this.details = details;
  }
}

export function isConverterError(err: unknown): err is ConverterError {
  return err instanceof ConverterError;
}
