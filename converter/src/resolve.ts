// Pure. Resolves every vhost-user interface of a VMI against its pod's annotations: VMI interface
// -> network -> NAD -> pod interface -> socket path and mode, plus the NIC facts (MAC, model,
// queues, MTU, PCI address). Facts that are not there yet are reported as pending, not thrown,
// so that the caller can wait for the CNI to write them.

import { posix } from 'node:path';
import { isVhostUserInterface } from './binding.js';
import type { ConverterConfig, ModeMap } from './config.js';
import { ConverterError } from './errors.js';
import type { ResolvedInterface, SocketLink } from './model.js';
import { draClaimRef, draMetadataPath, draVhostUser, isDraNetwork, type DraMetadataFiles } from './dra.js';
import { kubeOvnMacAnnotation, kubeOvnSocketDir, kubeOvnSocketPath, type KubeOvnNetwork } from './kube-ovn.js';
import { allowedSocketDirs, asDirPrefix, confineSocketPath, placeSocket } from './socket-path.js';
import { checkSocketPath } from './xml/checks.js';
import type { ConfigurationDataEntry } from './annotations/configuration-data.js';
import { isSupportedDeviceInfoVersion, type DeviceInfo } from './annotations/device-info.js';
import { ANNOTATION } from './annotations/keys.js';
import type { NetworkInfoInterface } from './annotations/network-info.js';
import type { NetworkStatusEntry } from './annotations/network-status.js';
import { formatNadRef, parseNadName, type NadRef } from './annotations/nad-name.js';
import { findPodInterface, findStatusEntry, indexPodInterfaces, type PodInterfaceIndex } from './annotations/pod-interface.js';
import { readPodAnnotations, type PodAnnotations } from './annotations/pod-annotations.js';
import { countVcpus, ordinalPodInterfaceNames, parsePciAddress, podInterfaceNameCandidates, virtioModelOf, type Vmi, type VmiInterface, type VmiNetwork } from './vmi.js';

/** KubeVirt caps `<driver queues>` at the tap device maximum (virtio-queues.go). */
export const MAX_QUEUES = 256;

/** A vhost-user interface whose facts are not in the annotations yet. */
export interface PendingInterface {
  readonly iface: string;
  readonly error: ConverterError;
}

export interface ResolveOutcome {
  readonly resolved: readonly ResolvedInterface[];
  readonly pending: readonly PendingInterface[];
}

interface Context {
  readonly vmi: Vmi;
  readonly pod: PodAnnotations;
  /** The trusted annotations as they are, for keys no parser reads (Kube-OVN's per-provider MAC). */
  readonly annotations: ReadonlyMap<string, string>;
  readonly config: ConverterConfig;
  readonly namespace?: string;
  // Lookup tables built once per resolution, so that n interfaces cost O(n), not O(n^2).
  readonly networks: ReadonlyMap<string, VmiNetwork>;
  readonly ordinals: ReadonlyMap<string, string | undefined>;
  readonly podInterfaces: PodInterfaceIndex;
  /** Socket directories a path may lie in. */
  readonly allowedDirs: readonly string[];
  /** Socket annotations set aside because the VMI owner wrote them. */
  readonly untrusted: readonly string[];
  /** The DRA metadata files read for the VMI's DRA networks (dra-files.ts). */
  readonly dra: DraMetadataFiles;
}

/** The first element of each name. */
function byName<T extends { readonly name: string }>(items: readonly T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) if (!map.has(item.name)) map.set(item.name, item);
  return map;
}

/** vhost-user interfaces of the VMI in spec order, hot-unplugged (`state: absent`) ones left out. */
export function vhostUserInterfaces(vmi: Vmi, bindingNames: readonly string[]): VmiInterface[] {
  return (vmi.spec.domain.devices?.interfaces ?? []).filter((i) => isVhostUserInterface(i, bindingNames));
}

/** The annotations a socket path, mode or directory is read from. */
const SOCKET_ANNOTATIONS: readonly string[] = [
  ANNOTATION.networkStatus,
  ANNOTATION.networksStatus,
  ANNOTATION.configurationData,
  ANNOTATION.mappedDir,
  ANNOTATION.mappedDirLegacy,
  ANNOTATION.networkInfo,
];

/**
 * KubeVirt copies every VMI annotation onto the launcher pod, so a socket annotation whose key and
 * value also stand in the VMI's own metadata was written by the VMI owner, not by a CNI or
 * KubeVirt (which replace the whole value when they write it): it is left out.
 */
export function setAsideOwnerAnnotations(
  annotations: ReadonlyMap<string, string>,
  vmi: Vmi,
): { trusted: ReadonlyMap<string, string>; untrusted: string[] } {
  const own = vmi.metadata?.annotations;
  if (own === undefined) return { trusted: annotations, untrusted: [] };
  const untrusted = SOCKET_ANNOTATIONS.filter((key) => {
    const value = annotations.get(key);
    return value !== undefined && own[key] === value;
  });
  if (untrusted.length === 0) return { trusted: annotations, untrusted };
  const trusted = new Map(annotations);
  for (const key of untrusted) trusted.delete(key);
  return { trusted, untrusted };
}

/**
 * Resolves what can be resolved now. Problems that waiting cannot fix (unknown network, bad
 * annotation JSON, unmappable mode, ...) are thrown; missing CNI facts are returned as pending.
 */
export function resolveAvailable(annotations: ReadonlyMap<string, string>, vmi: Vmi, config: ConverterConfig, dra: DraMetadataFiles = new Map()): ResolveOutcome {
  const ifaces = vhostUserInterfaces(vmi, config.bindingNames);
  if (ifaces.length === 0) return { resolved: [], pending: [] };
  const namespace = vmi.metadata?.namespace ?? config.namespace;
  const { trusted, untrusted } = setAsideOwnerAnnotations(annotations, vmi);
  const pod = readPodAnnotations(trusted);
  const ctx: Context = {
    vmi,
    pod,
    annotations: trusted,
    config,
    ...(namespace !== undefined ? { namespace } : {}),
    networks: byName(vmi.spec.networks ?? []),
    ordinals: ordinalPodInterfaceNames(vmi),
    podInterfaces: indexPodInterfaces(pod, namespace),
    allowedDirs: allowedSocketDirs(config),
    untrusted,
    dra,
  };
  const resolved: ResolvedInterface[] = [];
  const pending: PendingInterface[] = [];
  for (const iface of ifaces) {
    const result = resolveOne(ctx, iface);
    if (result instanceof ConverterError) pending.push({ iface: iface.name, error: result });
    else resolved.push(result);
  }
  return { resolved, pending };
}

/**
 * Resolves every vhost-user interface of the VMI, in VMI spec order.
 *
 * @throws ConverterError for the first interface that cannot be resolved.
 */
export function resolveInterfaces(annotations: ReadonlyMap<string, string>, vmi: Vmi, config: ConverterConfig, dra?: DraMetadataFiles): ResolvedInterface[] {
  const outcome = resolveAvailable(annotations, vmi, config, dra);
  const first = outcome.pending[0];
  if (first !== undefined) throw first.error;
  return [...outcome.resolved];
}

function resolveOne(ctx: Context, iface: VmiInterface): ResolvedInterface | ConverterError {
  const { vmi, pod, config } = ctx;
  const network = ctx.networks.get(iface.name);
  if (network === undefined) {
    throw new ConverterError('E_NETWORK_NOT_FOUND', `interface '${iface.name}': no network named '${iface.name}' in spec.networks`, {
      iface: iface.name,
      hint: 'each interface needs a network of the same name',
    });
  }
  if (isDraNetwork(network)) return resolveDra(ctx, iface, network);
  if (network.multus === undefined) {
    throw new ConverterError('E_NOT_MULTUS', `interface '${iface.name}': network '${network.name}' is neither a Multus nor a DRA network`, {
      iface: iface.name,
      hint: 'bind vhost-user interfaces to a network with multus.networkName or resourceClaim',
    });
  }
  const nad = parseNadName(network.multus.networkName, ctx.namespace);
  const statusName = vmi.status?.interfaces?.find((s) => s.name === iface.name)?.podInterfaceName;
  const podIface = findPodInterface(
    pod,
    {
      iface: iface.name,
      network: network.name,
      nad,
      ...podInterfaceNameCandidates(vmi, network.name, ctx.ordinals),
      ...(ctx.namespace !== undefined ? { namespace: ctx.namespace } : {}),
      ...(statusName !== undefined ? { statusName } : {}),
    },
    ctx.podInterfaces,
  );
  if (podIface === undefined) {
    const untrusted = untrustedError(ctx, iface.name, `no pod interface for network '${network.name}' yet`);
    if (untrusted !== undefined) return untrusted;
    return new ConverterError(
      'E_POD_INTERFACE_NOT_FOUND',
      `interface '${iface.name}': no pod interface for network '${network.name}' (NAD ${formatNadRef(nad)}) in network-status, networks or userspace/configuration-data`,
      { iface: iface.name, hint: 'check that Multus attached the NAD to the pod' },
    );
  }
  const status = findStatusEntry(pod, podIface.name, nad, ctx.namespace, ctx.podInterfaces);
  const info = pod.networkInfo?.find((n) => n.network === network.name);
  const kubeOvn = ctx.config.kubeOvn.find((k) => k.nad === formatNadRef(nad));
  const socket = findSocket(ctx, iface.name, network.name, podIface.name, nad, status, info, kubeOvn);
  if (socket instanceof ConverterError) return socket;
  const kubeOvnMac = kubeOvn?.provider === undefined ? undefined : ctx.annotations.get(kubeOvnMacAnnotation(kubeOvn.provider));

  return {
    vmiInterface: iface.name,
    network: network.name,
    podInterface: podIface.name,
    socketPath: socket.path,
    ...(socket.cniSocketPath !== undefined ? { cniSocketPath: socket.cniSocketPath } : {}),
    ...(socket.socketLink !== undefined ? { socketLink: socket.socketLink } : {}),
    socketSource: socket.source,
    mode: socket.mode,
    ...nicFacts(ctx, iface, status?.mac ?? kubeOvnMac ?? info?.mac, status?.mtu ?? info?.mtu),
  };
}

/**
 * A DRA network: the socket and MTU come from the claim's device metadata, which the kubelet
 * writes and no VMI owner can (they choose only which of their pod's claims); the path must lie
 * in the DRA driver's own socket directories, and is already the same in every pod of the VMI
 * (the driver mounts it at <root>/<claim>/<request>), so no link is made. QEMU is the server:
 * the driver's OVS port is dpdkvhostuserclient.
 */
function resolveDra(ctx: Context, iface: VmiInterface, network: VmiNetwork): ResolvedInterface {
  const { config } = ctx;
  const ref = draClaimRef(ctx.vmi, network, iface.name);
  const candidates = config.dra.drivers.map((driver) => ({ driver, file: draMetadataPath(config.dra.metadataRoot, ref, driver) }));
  const found = candidates.find((c) => ctx.dra.get(c.file) !== undefined);
  if (found === undefined) {
    throw new ConverterError(
      'E_DRA_METADATA',
      `interface '${iface.name}': DRA claim '${ref.claim}' request '${ref.request}': no device metadata: ${candidates.map((c) => c.file).join(', ')} absent`,
      {
        iface: iface.name,
        claim: ref.claim,
        request: ref.request,
        file: candidates[0]?.file ?? config.dra.metadataRoot,
        hint: 'the DRA driver must write device metadata (dra-driver-ovsdpdk --enable-device-metadata) and this container must request the claim (docs/converter.md, DRA)',
      },
    );
  }
  const device = draVhostUser(ctx.dra.get(found.file) ?? '', found.file, ref, found.driver, iface.name);
  const origin = { iface: iface.name, annotation: `${found.file} (device ${device.device})` };
  confineSocketPath(device.path, config.dra.socketDirs.map(asDirPrefix), origin);
  checkSocketPath(iface.name, device.path);
  return {
    vmiInterface: iface.name,
    network: network.name,
    podInterface: '',
    socketPath: device.path,
    socketSource: found.file,
    mode: 'server',
    ...nicFacts(ctx, iface, device.mac, device.mtu),
  };
}

/** The NIC facts every source shares: MAC (the VMI's first), MTU, model, queues, PCI, ACPI, boot. */
function nicFacts(
  ctx: Context,
  iface: VmiInterface,
  sourceMac: string | undefined,
  mtu: number | undefined,
): Pick<ResolvedInterface, 'model' | 'rxQueueSize' | 'txQueueSize' | 'mac' | 'mtu' | 'queues' | 'pciAddress' | 'acpiIndex' | 'bootOrder'> {
  const { vmi, config } = ctx;
  const mac = (iface.macAddress ?? sourceMac)?.trim();
  const queues = vmi.spec.domain.devices?.networkInterfaceMultiqueue === true ? Math.min(countVcpus(vmi), MAX_QUEUES) : 0;
  return {
    model: virtioModelOf(vmi, iface),
    rxQueueSize: config.rxQueueSize,
    txQueueSize: config.txQueueSize,
    ...(mac !== undefined && mac !== '' ? { mac } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(queues > 0 ? { queues } : {}),
    ...(iface.pciAddress !== undefined && iface.pciAddress !== '' ? { pciAddress: parsePciAddress(iface.pciAddress, iface.name) } : {}),
    ...(iface.acpiIndex !== undefined && iface.acpiIndex > 0 ? { acpiIndex: iface.acpiIndex } : {}),
    ...(iface.bootOrder !== undefined ? { bootOrder: iface.bootOrder } : {}),
  };
}

interface Socket {
  readonly path: string;
  readonly mode: ResolvedInterface['mode'];
}

interface PlacedSocket extends Socket {
  /** The annotation the path came from. */
  readonly source: string;
  readonly cniSocketPath?: string;
  readonly socketLink?: SocketLink;
}

/** One place a socket may be read from, with the annotation it came from. */
type SocketSource =
  | { readonly kind: 'device-info'; readonly annotation: string; readonly device: DeviceInfo }
  | { readonly kind: 'configuration-data'; readonly annotation: string; readonly entry: ConfigurationDataEntry };

/**
 * The socket from the highest-ranked source that has one: Multus device-info in network-status,
 * then the userspace CNI's configuration-data, then kubevirt.io/network-info, unless KubeVirt
 * itself writes network-info (config.kubevirtNetworkInfo), which then ranks first. The path must
 * lie in an allowed socket directory.
 */
function findSocket(
  ctx: Context,
  iface: string,
  network: string,
  podIface: string,
  nad: NadRef,
  status: NetworkStatusEntry | undefined,
  info: NetworkInfoInterface | undefined,
  kubeOvn: KubeOvnNetwork | undefined,
): PlacedSocket | ConverterError {
  const { pod, config } = ctx;
  // Kube-OVN writes no socket annotation: for its NAD, any there came from someone else.
  if (kubeOvn !== undefined) return kubeOvnSocket(ctx, iface, network, podIface, kubeOvn);
  const asVhost = (device: DeviceInfo | undefined, annotation: string): SocketSource | undefined =>
    device?.type === 'vhost-user' ? { kind: 'device-info', annotation, device } : undefined;
  const fromStatus = asVhost(status?.['device-info'], pod.networkStatusKey ?? ANNOTATION.networkStatus);
  const fromInfo = asVhost(info?.deviceInfo, ANNOTATION.networkInfo);
  const entry = pod.configurationData?.find((c) => c.ifName === podIface);
  const fromConfig: SocketSource | undefined = entry === undefined ? undefined : { kind: 'configuration-data', annotation: ANNOTATION.configurationData, entry };
  const ranked = config.kubevirtNetworkInfo ? [fromInfo, fromStatus, fromConfig] : [fromStatus, fromConfig, fromInfo];
  const source = ranked.find((s) => s !== undefined);
  if (source === undefined) return missingSocket(ctx, iface, podIface, nad, [status?.['device-info'], info?.deviceInfo]);
  const socket = source.kind === 'device-info' ? fromDeviceInfo(ctx, iface, podIface, source.device) : fromConfigurationData(ctx, iface, podIface, source.entry);
  const joined = !socket.path.startsWith('/') && pod.mappedDir !== undefined ? ` joined to ${ANNOTATION.mappedDir}` : '';
  const sharedDir = pod.mappedDir ?? config.socketDir;
  const path = joinSocketPath(sharedDir, socket.path, `interface '${iface}': ${source.annotation} for ${podIface}`, iface);
  confineSocketPath(path, ctx.allowedDirs, { iface, annotation: `${source.annotation}${joined}` });
  // OVS connects to the CNI's path even when QEMU binds the stable one: it must be a socket path too.
  checkSocketPath(iface, path);
  if (!config.stableSocketPaths) return { path, mode: socket.mode, source: source.annotation };
  const placed = placeSocket(path, sharedDir, network, socket.mode);
  return { ...placed, path: placed.socketPath, mode: socket.mode, source: source.annotation };
}

/**
 * A Kube-OVN NAD's socket (kube-ovn.ts): in the Kube-OVN volume's mount, named by the NAD or after
 * the pod interface; QEMU is the server (Kube-OVN adds a dpdkvhostuserclient port). Confined to
 * that mount alone, and moved to the stable name with a link from Kube-OVN's name, as in the shared dir.
 */
function kubeOvnSocket(ctx: Context, iface: string, network: string, podIface: string, kubeOvn: KubeOvnNetwork): PlacedSocket {
  const source = `Kube-OVN NAD ${kubeOvn.nad}`;
  const dir = kubeOvnSocketDir(kubeOvn.volume);
  const path = kubeOvnSocketPath(kubeOvn, podIface, iface);
  confineSocketPath(path, [dir], { iface, annotation: source });
  checkSocketPath(iface, path);
  if (!ctx.config.stableSocketPaths) return { path, mode: 'server', source };
  const placed = placeSocket(path, dir, network, 'server');
  return { ...placed, path: placed.socketPath, mode: 'server', source };
}

function fromDeviceInfo(ctx: Context, iface: string, podIface: string, device: DeviceInfo): Socket {
  const where = `interface '${iface}': device-info of pod interface ${podIface}`;
  if (!isSupportedDeviceInfoVersion(device.version)) {
    throw new ConverterError('E_ANNOTATION_SCHEMA', `${where}: unsupported device-info version '${device.version}'`, {
      iface,
      hint: 'device-info-spec 1.x is supported',
    });
  }
  const vhost = device['vhost-user'];
  if (vhost === undefined) {
    throw new ConverterError('E_ANNOTATION_SCHEMA', `${where}: type vhost-user without a "vhost-user" section`, { iface });
  }
  return { path: vhost.path, mode: mapMode(vhost.mode, ctx.config.modeMap.deviceInfo, `${where}: mode`, iface) };
}

function fromConfigurationData(ctx: Context, iface: string, podIface: string, entry: ConfigurationDataEntry): Socket {
  const where = `interface '${iface}': userspace/configuration-data for ${podIface}`;
  const iftype = entry.config?.iftype;
  if (iftype !== undefined && iftype !== 'vhostuser') {
    throw new ConverterError('E_SOCKET_NOT_FOUND', `${where} is iftype '${iftype}', not vhostuser`, {
      iface,
      hint: 'set container.iftype to vhostuser in the NetworkAttachmentDefinition',
    });
  }
  const vhost = entry.config?.vhost;
  if (vhost?.socketfile === undefined || vhost.socketfile === '') {
    throw new ConverterError('E_SOCKET_NOT_FOUND', `${where} has no vhost.socketfile`, { iface });
  }
  if (vhost.mode === undefined || vhost.mode === '') {
    throw new ConverterError('E_MODE', `${where} has no vhost.mode`, {
      iface,
      hint: 'set container.vhost.mode (normally server) in the NetworkAttachmentDefinition',
    });
  }
  return { path: vhost.socketfile, mode: mapMode(vhost.mode, ctx.config.modeMap.configurationData, `${where}: vhost.mode`, iface) };
}

/** No socket yet: pending, and if the VMI owner's own copy of a socket annotation was set aside, it says so. */
function missingSocket(ctx: Context, iface: string, podIface: string, nad: NadRef, deviceInfos: readonly (DeviceInfo | undefined)[]): ConverterError {
  const untrusted = untrustedError(ctx, iface, `no CNI-written socket for pod interface ${podIface}`);
  if (untrusted !== undefined) return untrusted;
  const otherType = deviceInfos.find((d) => d !== undefined)?.type;
  return new ConverterError(
    'E_SOCKET_NOT_FOUND',
    `interface '${iface}': no vhost-user socket for pod interface ${podIface} (NAD ${formatNadRef(nad)}): ` +
      (otherType !== undefined ? `device-info is type '${otherType}', ` : 'no vhost-user device-info, ') +
      `no userspace/configuration-data entry with ifName ${podIface}`,
    { iface, hint: 'the NAD must use a vhost-user CNI (userspace CNI, or one that reports device-info)' },
  );
}

/** E_ANNOTATION_UNTRUSTED when socket annotations were set aside as the VMI owner's, else undefined. */
function untrustedError(ctx: Context, iface: string, what: string): ConverterError | undefined {
  const [first] = ctx.untrusted;
  if (first === undefined) return undefined;
  const keys = ctx.untrusted.join(', ');
  return new ConverterError(
    'E_ANNOTATION_UNTRUSTED',
    `interface '${iface}': ${what}; ignored ${keys}: the same key and value stand in the VMI's metadata.annotations, so the VMI owner wrote ${ctx.untrusted.length === 1 ? 'it' : 'them'}, not a CNI or KubeVirt`,
    { iface, annotation: first, hint: 'remove these annotations from the VM/VMI; the CNI writes them on the pod' },
  );
}

/**
 * Absolute paths stay; bare names are joined to the socket directory (never by concatenation).
 * A `..` is refused before normalizing, which would resolve it away and let an annotation aim
 * QEMU at a socket outside the socket directory (the node's OVS run directory, say).
 */
function joinSocketPath(dir: string, path: string, where: string, iface: string): string {
  const parts = path.startsWith('/') ? [path] : [dir, path];
  const climbing = parts.find((p) => p.split('/').includes('..'));
  if (climbing !== undefined) {
    throw new ConverterError('E_SOCKET_PATH', `${where}: socket path ${JSON.stringify(climbing)} contains a '..' segment`, {
      iface,
      hint: 'socket paths and userspace/mapped-dir must name the socket directory without ..',
    });
  }
  return path.startsWith('/') ? posix.normalize(path) : posix.join(dir, path);
}

function mapMode(mode: string, map: ModeMap, where: string, iface: string): ResolvedInterface['mode'] {
  if (mode === 'server' || mode === 'client') return map[mode];
  throw new ConverterError('E_MODE', `${where} '${mode}' is neither server nor client`, { iface });
}
