// Pure. Every vhost-user interface of a pod, no VMI needed: for DPDK applications in plain pods
// (the Kuryr vhost-user spec, openshift/app-netutil). Each attachment the pod's annotations list
// becomes a one-interface stand-in VMI that the converter's own resolver resolves, so the listing
// reads the same sources, in the same ranking, with the same trust and confinement checks as
// `convert`, and any source the resolver learns appears here too. Then each interface is given the
// shapes DPDK applications read: Kuryr's per-port file, app-netutil's InterfaceData and a ready
// `--vdev` argument for DPDK's virtio-user PMD.

import { parseConverterConfig, type ConverterConfig, type ConverterConfigInput } from './config.js';
import { ConverterError } from './errors.js';
import type { LibvirtSourceMode, ResolvedInterface } from './model.js';
import { isSupportedDeviceInfoVersion, PCI_ADDRESS, type DeviceInfo } from './annotations/device-info.js';
import { ANNOTATION } from './annotations/keys.js';
import { formatNadRef, isSameNad, parseNadName } from './annotations/nad-name.js';
import { readPodAnnotations, toAnnotationMap, type PodAnnotations } from './annotations/pod-annotations.js';
import { findStatusEntry } from './annotations/pod-interface.js';
import type { MissingEntry } from './podnetinfo/read.js';
import { resolveAvailable, setAsideOwnerAnnotations } from './resolve.js';
import { checkMac } from './xml/checks.js';
import type { Vmi } from './vmi.js';

/** app-netutil's `device-type` values (pkg/types/types.go at v4.8) and device-info's types. */
const DEVICE_TYPE = { vhostUser: 'vhost-user', sriov: 'sr-iov' } as const;
/** The device-info version app-netutil writes (network-attachment-definition-client DeviceInfoVersion). */
const APP_NETUTIL_DEVICE_INFO_VERSION = '1.0.0';
/** DPDK's virtio-user vdev driver (drivers/net/virtio/virtio_user_ethdev.c, RTE_PMD_REGISTER_VDEV). */
export const VIRTIO_USER_DRIVER = 'net_virtio_user';
/** Characters DPDK's devargs parser (lib/kvargs rte_kvargs_tokenize) treats as syntax, never as part of a value. */
const KVARGS_SYNTAX = /[,=[\]]/;

/** Kuryr's per-port file for DPDK applications (kuryr-kubernetes spec "vhost-user port integration"). */
export interface KuryrPort {
  /** The socket's file name in the mount point. */
  readonly vhostname: string;
  readonly vhostmac?: string;
  /** The pod's side: `server` = the application creates the socket, OVS connects. */
  readonly mode: LibvirtSourceMode;
}

/** app-netutil's InterfaceData: `device-type` and a Multus NetworkStatus with device-info. */
export interface AppNetutilInterface {
  readonly 'device-type': string;
  readonly 'network-status': {
    readonly name: string;
    readonly interface: string;
    readonly mac?: string;
    readonly 'device-info': {
      readonly type: string;
      readonly version: string;
      readonly 'vhost-user'?: { readonly mode: LibvirtSourceMode; readonly path: string };
      readonly pci?: { readonly 'pci-address': string };
    };
  };
}

/** One vhost-user interface of the pod. */
export interface PodVhostUserInterface {
  /** The NAD (`ns/name`) the attachment is of, as the pod's annotations name it; absent when they name none. */
  readonly network?: string;
  readonly podInterface: string;
  /** The CNI's socket path, as OVS uses it (no stable name: no QEMU, no migration). */
  readonly socketPath: string;
  /** The pod's side (device-info-spec 3.1.5.1): `server` = the application creates the socket. */
  readonly mode: LibvirtSourceMode;
  readonly mac?: string;
  readonly mtu?: number;
  /** The annotation (or file) the socket was read from. */
  readonly source: string;
  /** For DPDK's EAL: `--vdev <this>` (`net_virtio_user<N>,path=...,server=0|1[,mac=...]`). */
  readonly vdev: string;
  readonly kuryr: KuryrPort;
  readonly appNetutil: AppNetutilInterface;
}

/** An attachment of the pod that is not a vhost-user interface, and why. */
export interface PassedOverInterface {
  readonly network?: string;
  readonly podInterface: string;
  /** `sr-iov`: a PCI device (device-info type pci); `untrusted`: only an owner-written annotation had it; else `not-vhost-user`. */
  readonly kind: 'sr-iov' | 'untrusted' | 'not-vhost-user';
  readonly reason: string;
  readonly pciAddress?: string;
  /** app-netutil's view of an SR-IOV device (`device-type: sr-iov`). */
  readonly appNetutil?: AppNetutilInterface;
}

export interface PodInterfaceListing {
  readonly interfaces: readonly PodVhostUserInterface[];
  readonly passedOver: readonly PassedOverInterface[];
}

export interface ListPodInterfacesInput {
  readonly annotations: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** Socket directories, mode maps, namespace: as for convert (stable socket names do not apply). */
  readonly config?: Partial<ConverterConfig> | ConverterConfigInput;
  /**
   * Annotations someone other than the CNIs could write onto the pod (a VMI's, which KubeVirt
   * copies onto its launcher pod): socket annotations equal to them are set aside, as in convert.
   */
  readonly ownerAnnotations?: Readonly<Record<string, unknown>>;
}

/** One attachment the annotations list: its pod interface and, when named, its NAD. */
interface Attachment {
  readonly podInterface: string;
  readonly network?: string;
}

/**
 * Lists the pod's vhost-user interfaces in the order its annotations list the attachments
 * (network-status, then networks, then userspace/configuration-data), and the attachments that
 * are not vhost-user with the reason.
 *
 * @throws ConverterError for bad input, exactly as convert would for the same interface
 *   (E_ANNOTATION_*, E_SOCKET_PATH, E_MODE, E_MAC, ...).
 * @example listPodInterfaces({ annotations: parseDownwardApiFile(text), config: { allowedSocketDirs: ['/var/lib/cni/usrspcni'] } }).interfaces[0]?.vdev
 *   // 'net_virtio_user0,path=/var/lib/cni/usrspcni/037ecb6703b0-net1,server=1'
 */
export function listPodInterfaces(input: ListPodInterfacesInput): PodInterfaceListing {
  // No QEMU binds a stable name here: the application uses the CNI's socket as it is.
  const config = parseConverterConfig({ ...(input.config ?? {}), stableSocketPaths: false });
  const annotations = toAnnotationMap(input.annotations);
  const owner = input.ownerAnnotations;
  // The attachments are enumerated from what the resolver will trust, too.
  const { trusted } = setAsideOwnerAnnotations(annotations, { ...(owner !== undefined ? { metadata: { annotations: { ...owner } } } : {}), spec: { domain: {} } });
  const pod = readPodAnnotations(trusted);
  const interfaces: PodVhostUserInterface[] = [];
  const passedOver: PassedOverInterface[] = [];
  for (const attachment of attachmentsOf(pod)) {
    const outcome = resolveAttachment(annotations, attachment, config, owner);
    if ('reason' in outcome) {
      const untrusted = outcome.reason.code === 'E_ANNOTATION_UNTRUSTED' ? withOwnerAnnotations(annotations, attachment, config) : undefined;
      passedOver.push(untrusted === 'socket' ? { ...labels(attachment), kind: 'untrusted', reason: outcome.reason.message } : sriovOrOther(pod, attachment, untrusted ?? outcome, config));
    } else {
      interfaces.push(describe(outcome, attachment, interfaces.length));
    }
  }
  return { interfaces, passedOver };
}

/**
 * The attachments the pod asked for (`k8s.v1.cni.cncf.io/networks`) that Multus has not reported
 * in network-status yet: Multus writes network-status once every CNI of the pod has run, and the
 * kubelet copies it into the downward-API file only on a later sync. Empty when the pod asks for
 * none. For waitForPodAnnotations.
 *
 * @throws ConverterError for a malformed annotation (waiting cannot fix it).
 */
export function unreportedAttachments(annotations: ReadonlyMap<string, string>, namespace?: string): MissingEntry[] {
  const pod = readPodAnnotations(annotations);
  const reported = [...(pod.networkStatus ?? [])].map((e) => ({ nad: parseNadName(e.name, namespace), iface: e.interface }));
  const missing: MissingEntry[] = [];
  for (const s of pod.networks ?? []) {
    const nad = parseNadName(s.name, s.namespace ?? namespace);
    // Each request takes one status entry of its NAD (its own interface, when it names one).
    const at = reported.findIndex((r) => isSameNad(r.nad, nad) && (s.interface === undefined || r.iface === s.interface));
    if (at >= 0) reported.splice(at, 1);
    else {
      const what = `${formatNadRef(nad)}${s.interface !== undefined ? `@${s.interface}` : ''}`;
      missing.push({ what, message: `attachment ${what} is not in network-status yet` });
    }
  }
  return missing;
}

/** Every pod interface the annotations name, once, with the NAD it attaches. */
function attachmentsOf(pod: PodAnnotations): Attachment[] {
  const seen = new Map<string, Attachment>();
  const add = (podInterface: string | undefined, network: string | undefined): void => {
    if (podInterface === undefined || podInterface === '' || seen.has(podInterface)) return;
    seen.set(podInterface, { podInterface, ...(network !== undefined && network.trim() !== '' ? { network } : {}) });
  };
  for (const e of pod.networkStatus ?? []) add(e.interface, e.name);
  for (const s of pod.networks ?? []) add(s.interface, formatNadRef(parseNadName(s.name, s.namespace)));
  for (const c of pod.configurationData ?? []) add(c.ifName, c.name);
  return [...seen.values()];
}

/**
 * A VMI with one vhost-user interface on this attachment, named after the pod interface, which
 * its status reports: the resolver then picks exactly this pod interface, even among several
 * attachments of one NAD. An attachment without a NAD gets a name no NAD can have (`#...`), so
 * it matches no other entry.
 */
function standIn(attachment: Attachment, ownerAnnotations: Readonly<Record<string, unknown>> | undefined): Vmi {
  const name = attachment.podInterface;
  return {
    ...(ownerAnnotations !== undefined ? { metadata: { annotations: { ...ownerAnnotations } } } : {}),
    spec: {
      domain: { devices: { interfaces: [{ name, vhostuser: {} }] } },
      networks: [{ name, multus: { networkName: attachment.network ?? standInNad(name) } }],
    },
    status: { interfaces: [{ name, podInterfaceName: name }] },
  };
}

/** The NAD name of an attachment the annotations name none for: no NAD can be named so (DNS-1123). */
const standInNad = (podInterface: string): string => `#${podInterface}`;

type Outcome = ResolvedInterface | { readonly reason: ConverterError };

/** Resolved, or why not when waiting could fix it or it is no vhost-user socket; bad input throws. */
function resolveAttachment(annotations: ReadonlyMap<string, string>, attachment: Attachment, config: ConverterConfig, owner: Readonly<Record<string, unknown>> | undefined): Outcome {
  try {
    const { resolved, pending } = resolveAvailable(annotations, standIn(attachment, owner), config);
    const [first] = resolved;
    if (first !== undefined) return first;
    const error = pending[0]?.error ?? new ConverterError('E_SOCKET_NOT_FOUND', `interface '${attachment.podInterface}': not resolved`);
    return { reason: error };
  } catch (err) {
    // A userspace CNI entry of another iftype (memif) or without a socket: not vhost-user.
    if (err instanceof ConverterError && err.code === 'E_SOCKET_NOT_FOUND') return { reason: err };
    throw err;
  }
}

/**
 * The resolver says "untrusted" for any interface without a socket once something was set aside;
 * here that is only so when the set-aside annotations would have given this one a socket (the
 * pod's default network never had one): `socket`, else why it has none even with them.
 */
function withOwnerAnnotations(annotations: ReadonlyMap<string, string>, attachment: Attachment, config: ConverterConfig): 'socket' | { readonly reason: ConverterError } {
  try {
    const outcome = resolveAttachment(annotations, attachment, config, undefined);
    return 'reason' in outcome ? outcome : 'socket';
  } catch {
    // Whatever the owner's annotations would make of it, they name something for this interface.
    return 'socket';
  }
}

const labels = (attachment: Attachment): { network?: string; podInterface: string } => ({
  ...(attachment.network !== undefined ? { network: attachment.network } : {}),
  podInterface: attachment.podInterface,
});

function sriovOrOther(pod: PodAnnotations, attachment: Attachment, outcome: { readonly reason: ConverterError }, config: ConverterConfig): PassedOverInterface {
  const { podInterface } = attachment;
  const base = labels(attachment);
  const nad = parseNadName(attachment.network ?? standInNad(podInterface), config.namespace);
  const device = findStatusEntry(pod, podInterface, nad, config.namespace)?.['device-info'];
  // The stand-in NAD of an attachment without one is ours, not the pod's: not named in the reason.
  if (device?.type !== 'pci') return { ...base, kind: 'not-vhost-user', reason: attachment.network === undefined ? outcome.reason.message.replace(` (NAD ${formatNadRef(nad)})`, '') : outcome.reason.message };
  const pciAddress = checkPciDevice(device, podInterface, pod.networkStatusKey ?? ANNOTATION.networkStatus);
  return {
    ...base,
    kind: 'sr-iov',
    pciAddress,
    reason: `pod interface ${podInterface}: a PCI device (SR-IOV VF ${pciAddress}, device-info type pci), not a vhost-user socket; a DPDK application binds it with its PCI driver (-a ${pciAddress}), not with --vdev`,
    appNetutil: {
      'device-type': DEVICE_TYPE.sriov,
      'network-status': {
        name: attachment.network ?? '',
        interface: podInterface,
        'device-info': { type: 'pci', version: APP_NETUTIL_DEVICE_INFO_VERSION, pci: { 'pci-address': pciAddress } },
      },
    },
  };
}

/** The PCI address of a device-info of type pci, checked as the vhost-user section is. */
function checkPciDevice(device: DeviceInfo, podInterface: string, annotation: string): string {
  const where = `annotation ${annotation}: device-info of pod interface ${podInterface}`;
  if (!isSupportedDeviceInfoVersion(device.version)) {
    throw new ConverterError('E_ANNOTATION_SCHEMA', `${where}: unsupported device-info version '${device.version}'`, { annotation, hint: 'device-info-spec 1.x is supported' });
  }
  const address = device.pci?.['pci-address'];
  if (address === undefined || !PCI_ADDRESS.test(address)) {
    const shown = address === undefined ? 'no pci.pci-address' : `pci.pci-address ${JSON.stringify(address)} is not dddd:bb:ss.f`;
    throw new ConverterError('E_ANNOTATION_SCHEMA', `${where}: type pci with ${shown}`, { annotation, hint: 'the SR-IOV CNI writes the VF address as 0000:01:02.5' });
  }
  return address.toLowerCase();
}

/** The listing's view of a resolved interface, with the shapes DPDK applications read. */
function describe(r: ResolvedInterface, attachment: Attachment, index: number): PodVhostUserInterface {
  if (r.mac !== undefined) checkMac(r.podInterface, r.mac);
  const vhostname = r.socketPath.slice(r.socketPath.lastIndexOf('/') + 1);
  return {
    ...(attachment.network !== undefined ? { network: attachment.network } : {}),
    podInterface: r.podInterface,
    socketPath: r.socketPath,
    mode: r.mode,
    ...(r.mac !== undefined ? { mac: r.mac } : {}),
    ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
    source: r.socketSource ?? 'unknown',
    vdev: virtioUserVdev(index, r),
    kuryr: { vhostname, ...(r.mac !== undefined ? { vhostmac: r.mac } : {}), mode: r.mode },
    appNetutil: {
      'device-type': DEVICE_TYPE.vhostUser,
      'network-status': {
        name: attachment.network ?? '',
        interface: r.podInterface,
        ...(r.mac !== undefined ? { mac: r.mac } : {}),
        'device-info': { type: DEVICE_TYPE.vhostUser, version: APP_NETUTIL_DEVICE_INFO_VERSION, 'vhost-user': { mode: r.mode, path: r.socketPath } },
      },
    },
  };
}

/**
 * DPDK's virtio-user devargs for one interface (doc/guides/nics/virtio.rst, "virtio-user vdev"):
 * `server=1` when the pod's side is the server (the application creates the socket and OVS,
 * a dpdkvhostuserclient port, connects), `server=0` when OVS listens (dpdkvhostuser) and the
 * application connects; `mac` when the CNI reported one.
 *
 * @throws ConverterError E_SOCKET_PATH when the path holds a character the devargs parser splits at.
 */
export function virtioUserVdev(index: number, r: Pick<ResolvedInterface, 'podInterface' | 'socketPath' | 'mode' | 'mac'>): string {
  if (KVARGS_SYNTAX.test(r.socketPath)) {
    throw new ConverterError('E_SOCKET_PATH', `interface '${r.podInterface}': socket path ${JSON.stringify(r.socketPath)} contains one of , = [ ], which DPDK's devargs parser splits at: no --vdev can name it`, {
      iface: r.podInterface,
      hint: 'name the socket directory and file with letters, digits, -, _, . and / only',
    });
  }
  const mac = r.mac === undefined ? '' : `,mac=${r.mac}`;
  return `${VIRTIO_USER_DRIVER}${index},path=${r.socketPath},server=${r.mode === 'server' ? 1 : 0}${mac}`;
}
