// Public API of the converter: pod annotations + VMI (+ domain XML) -> libvirt vhost-user
// interfaces. `convert` is pure; `rewriteDomainForPod` adds the one I/O step, reading the pod's
// downward-API annotations with a bounded wait. The hook sidecar and the CLI call these two.

import { parseConverterConfig, type ConverterConfig, type ConverterConfigInput } from './config.js';
import { ConverterError } from './errors.js';
import type { ResolvedInterface } from './model.js';
import { toAnnotationMap } from './annotations/pod-annotations.js';
import { readPodAnnotationsFile, waitForPodAnnotations, type MissingEntry } from './podnetinfo/read.js';
import { resolveAvailable, resolveInterfaces, vhostUserInterfaces } from './resolve.js';
import type { DraMetadataFiles } from './dra.js';
import { needsPodAnnotations, readDraMetadata } from './dra-files.js';
import { kubeOvnSocketDir } from './kube-ovn.js';
import { ensureSocketLinks, refuseSymlinkedSocketDirs, type LinkOptions, type LinkOutcome } from './socket-files.js';
import { allowedSocketDirs } from './socket-path.js';
import { parseVmi, type Vmi } from './vmi.js';
import { emitInterfaces, rewriteDomain } from './xml/index.js';

export * from './shared.js';
export { ConverterError, isConverterError, type ConverterErrorCode, type ConverterErrorDetails } from './errors.js';
export type { LibvirtSourceMode, PciAddress, ResolvedInterface, SocketLink, VirtioModel } from './model.js';
export { ConverterConfigSchema, parseConverterConfig, type ConverterConfig, type ConverterConfigInput } from './config.js';
export { formatDownwardApiFile, parseDownwardApiFile } from './podnetinfo/parse.js';
export { quoteGoString, unquoteGoString } from './podnetinfo/go-quote.js';
export { readPodAnnotationsFile, waitForPodAnnotations } from './podnetinfo/read.js';
export { parseNetworkStatus, type NetworkStatusEntry } from './annotations/network-status.js';
export { parseConfigurationData, type ConfigurationDataEntry } from './annotations/configuration-data.js';
export { parseNetworkInfo, type NetworkInfoInterface } from './annotations/network-info.js';
export { readPodAnnotations, type PodAnnotations } from './annotations/pod-annotations.js';
export { resolveAvailable, resolveInterfaces, setAsideOwnerAnnotations, vhostUserInterfaces } from './resolve.js';
export {
  listPodInterfaces,
  unreportedAttachments,
  virtioUserVdev,
  type AppNetutilInterface,
  type KuryrPort,
  type ListPodInterfacesInput,
  type PassedOverInterface,
  type PodInterfaceListing,
  type PodVhostUserInterface,
} from './pod-interfaces.js';
export { draClaimRef, draMetadataPath, draVhostUser, isDraNetwork, type DraClaimRef, type DraMetadataFiles, type DraVhostUser } from './dra.js';
export { needsPodAnnotations, readDraMetadata } from './dra-files.js';
export { kubeOvnMacAnnotation, kubeOvnSocketDir, parseKubeOvnNetworks, type KubeOvnNetwork } from './kube-ovn.js';
export { allowedSocketDirs, confineSocketPath, isOvsControlName, placeSocket, stableSocketName } from './socket-path.js';
export { ensureSocketLinks, refuseSymlinkedSocketDirs, type LinkOptions, type LinkOutcome } from './socket-files.js';
export { SocketSharing, type ProcessIds, type ShareOutcome, type SocketGroupLog } from './socket-group.js';
export { hashedPodInterfaceName, parseVmi, type Vmi } from './vmi.js';
export { emitInterfaces, rewriteDomain } from './xml/index.js';

/** Settings as callers pass them: any subset, nested maps included. */
export type ConverterSettings = Partial<ConverterConfig> | ConverterConfigInput;

export interface ConvertInput {
  readonly annotations: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** The VirtualMachineInstance: an object, or its JSON text. */
  readonly vmi: unknown;
  /** A whole libvirt domain to rewrite; without it only the interface elements are returned. */
  readonly domainXml?: string;
  readonly config?: ConverterSettings;
  /** The DRA metadata files of the VMI's DRA networks (readDraMetadata), path -> text. */
  readonly dra?: DraMetadataFiles;
}

export interface ConvertResult {
  readonly xml: string;
  readonly interfaces: ResolvedInterface[];
}

/**
 * Resolves the VMI's vhost-user interfaces from the pod annotations and writes them as libvirt
 * XML: the rewritten domain when `domainXml` is given, else the `<interface>` elements alone.
 *
 * @throws ConverterError (see ConverterErrorCode) for any bad or incomplete input.
 * @example
 * const { xml } = convert({ annotations: parseDownwardApiFile(text), vmi, domainXml });
 */
export function convert(input: ConvertInput): ConvertResult {
  const config = parseConverterConfig(input.config ?? {});
  return convertParsed(toAnnotationMap(input.annotations), decodeVmi(input.vmi), config, input.domainXml, input.dra);
}

export interface RewriteForPodInput {
  readonly domainXml: string;
  readonly vmi: unknown;
  /** The downward-API directory (e.g. /etc/podnetinfo) or its `annotations` file. */
  readonly podinfo: string;
  /** Bounded wait for the CNI annotations; defaults to `config.waitMs`. 0 reads once. */
  readonly waitMs?: number;
  readonly config?: ConverterSettings;
  /** Whether a missing shared dir fails the socket links (the sidecar) or skips them (the CLI). */
  readonly links?: LinkOptions['missingDir'];
}

export interface PodDomain extends ConvertResult {
  /** The socket links made or found, per interface. */
  readonly links: readonly LinkOutcome[];
}

/**
 * Reads the pod's annotations (waiting up to `waitMs` for the ones the VMI's vhost-user interfaces
 * need), then returns the domain XML with those interfaces added or replaced.
 *
 * @throws ConverterError E_TIMEOUT listing the interfaces still missing, or any convert() error.
 */
export async function rewriteDomainForPod(input: RewriteForPodInput): Promise<string> {
  return (await prepareDomainForPod(input)).xml;
}

/**
 * rewriteDomainForPod, with what it resolved and the socket links it made: the sidecar's call.
 * The links are made before the domain is returned, so QEMU never binds a name OVS cannot reach.
 */
export async function prepareDomainForPod(input: RewriteForPodInput): Promise<PodDomain> {
  const config = parseConverterConfig(input.config ?? {});
  const vmi = decodeVmi(input.vmi);
  // Nothing to resolve: the pod may not even have the podinfo volume, so do not read it.
  if (vhostUserInterfaces(vmi, config.bindingNames).length === 0) return { ...convertParsed(new Map(), vmi, config, input.domainXml), links: [] };
  const dra = await readDraMetadata(vmi, config);
  // DRA networks alone read no annotations: such a pod may have no podinfo volume at all.
  const annotations = needsPodAnnotations(vmi, config) ? await loadPodAnnotations(input.podinfo, vmi, config, input.waitMs ?? config.waitMs, dra) : new Map<string, string>();
  const result = convertParsed(annotations, vmi, config, input.domainXml, dra);
  await refuseSymlinkedSocketDirs(result.interfaces, checkedSocketDirs(config));
  const links = await ensureSocketLinks(result.interfaces, { missingDir: input.links ?? 'required' });
  return { ...result, links };
}

/**
 * Reads the pod annotations once (`waitMs` 0) or until every vhost-user interface of the VMI
 * can be resolved, for at most `waitMs`.
 */
export async function loadPodAnnotations(podinfo: string, vmi: Vmi, config: ConverterConfig, waitMs: number, dra?: DraMetadataFiles): Promise<ReadonlyMap<string, string>> {
  if (!Number.isFinite(waitMs) || waitMs < 0) {
    throw new ConverterError('E_CONFIG', `invalid wait ${waitMs} ms: must be a finite number >= 0`);
  }
  if (waitMs === 0) return readPodAnnotationsFile(podinfo);
  return waitForPodAnnotations(podinfo, {
    timeoutMs: Math.round(waitMs),
    pollMs: config.pollMs,
    missing: (annotations) => missingInterfaces(annotations, vmi, config, dra),
  });
}

/** The directories whose components must be real directories: the allowed ones and the DRA driver's. */
export function checkedSocketDirs(config: ConverterConfig): string[] {
  const kubeOvn = config.kubeOvn.map((k) => kubeOvnSocketDir(k.volume));
  return allowedSocketDirs({ socketDir: config.socketDir, allowedSocketDirs: [...config.allowedSocketDirs, ...config.dra.socketDirs, ...kubeOvn] });
}

function missingInterfaces(annotations: ReadonlyMap<string, string>, vmi: Vmi, config: ConverterConfig, dra: DraMetadataFiles | undefined): MissingEntry[] {
  return resolveAvailable(annotations, vmi, config, dra).pending.map(({ iface, error }) => {
    const hint = error.details.hint === undefined ? '' : ` (hint: ${error.details.hint})`;
    const message = hint !== '' && error.message.endsWith(hint) ? error.message.slice(0, -hint.length) : error.message;
    return { what: iface, message };
  });
}

function convertParsed(annotations: ReadonlyMap<string, string>, vmi: Vmi, config: ConverterConfig, domainXml: string | undefined, dra?: DraMetadataFiles): ConvertResult {
  const interfaces = resolveInterfaces(annotations, vmi, config, dra);
  const xml = domainXml === undefined ? emitInterfaces(interfaces) : rewriteDomain(domainXml, interfaces);
  return { xml, interfaces };
}

/** Accepts the VMI as an object, or as JSON text/bytes (what KubeVirt hands a hook sidecar). */
function decodeVmi(vmi: unknown): Vmi {
  if (typeof vmi === 'string' || vmi instanceof Uint8Array) {
    const text = typeof vmi === 'string' ? vmi : Buffer.from(vmi).toString('utf8');
    try {
      return parseVmi(JSON.parse(text));
    } catch (err) {
      if (err instanceof ConverterError) throw err;
      throw new ConverterError('E_VMI_INVALID', `VMI is not valid JSON (${err instanceof Error ? err.message : String(err)})`, {}, { cause: err });
    }
  }
  return parseVmi(vmi);
}
