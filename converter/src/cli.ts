// I/O edge. `kubevirt-vhostuser convert`: reads the pod's downward-API annotations, a VMI and
// optionally a domain, and prints the rewritten domain (or the interface elements). Output is
// written in one piece only on success; any failure is one `error:` line on stderr.

import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { CONVERTER_FLAGS, converterFlags } from '../../cli/converter-flags.js';
import { HELP_OPTION, parseOptions, usageText, UsageError } from '../../cli/options.js';
import { CliError, printingCommand, type Subcommand } from '../../cli/subcommand.js';
import { parseConverterConfig } from './config.js';
import { DRA_METADATA_ROOT, PODINFO_DIR, SHARED_DIR } from './contract.js';
import { needsPodAnnotations, readDraMetadata } from './dra-files.js';
import { parseKubeOvnNetworks } from './kube-ovn.js';
import { ConverterError } from './errors.js';
import { checkedSocketDirs, convert, loadPodAnnotations, vhostUserInterfaces } from './index.js';
import { ensureSocketLinks, refuseSymlinkedSocketDirs } from './socket-files.js';
import { parseVmi } from './vmi.js';

const OPTIONS = {
  podinfo: { type: 'string', value: 'path', default: PODINFO_DIR, help: "downward-API directory with the pod's annotations, its annotations file, or KubeVirt's network-info file" },
  vmi: { type: 'string', value: 'file', help: 'the VirtualMachineInstance (or VirtualMachine), YAML or JSON (required)' },
  domain: { type: 'string', value: 'file', help: 'a libvirt domain to rewrite; without it only the interfaces are printed' },
  'socket-dir': { type: 'string', value: 'dir', default: SHARED_DIR, help: 'the shared dir: socket directory when userspace/mapped-dir is absent; socket paths may always lie in it' },
  'dra-root': { type: 'string', value: 'dir', default: DRA_METADATA_ROOT, help: 'where the kubelet mounts DRA device metadata (KEP-5304), read for networks with resourceClaim' },
  'kube-ovn': { type: 'string', value: 'json', help: "the pod's Kube-OVN vhost-user networks, as the webhook sets KUBEVIRT_VHOSTUSER_KUBE_OVN on the sidecar" },
  ...CONVERTER_FLAGS,
  'kubevirt-network-info': { type: 'boolean', help: 'the binding has downwardAPI: device-info, so KubeVirt writes kubevirt.io/network-info and it outranks the CNI annotations' },
  ...HELP_OPTION,
} as const;

const USAGE = usageText(
  'convert --vmi <file> [--podinfo <path>] [options]',
  "Writes libvirt <interface type='vhostuser'> elements for the vhost-user interfaces of a KubeVirt\nVMI, from the network annotations of its virt-launcher pod. In a pod it also makes the socket\nlinks the sidecar makes.",
  [['Options', OPTIONS]],
);

export const convertCommand: Subcommand = printingCommand(runConvert);

/** Does the whole job and returns what to print; prints nothing itself. */
export async function runConvert(argv: readonly string[], warn: (line: string) => void = () => {}): Promise<string> {
  const values = parseOptions(argv, OPTIONS);
  if (values['help'] === true) return USAGE;
  const vmiFile = values['vmi'];
  if (typeof vmiFile !== 'string') throw new UsageError('missing --vmi <file> (see --help)');
  const shared = converterFlags(values);
  const config = parseConverterConfig({
    socketDir: values['socket-dir'],
    bindingNames: shared.bindingNames,
    allowedSocketDirs: shared.allowedSocketDirs,
    stableSocketPaths: shared.stableSocketPaths,
    kubevirtNetworkInfo: values['kubevirt-network-info'] === true,
    dra: { metadataRoot: values['dra-root'] },
    ...(typeof values['kube-ovn'] === 'string' ? { kubeOvn: parseKubeOvnNetworks(values['kube-ovn']) } : {}),
  });
  const vmi = parseVmi(pickVmiDocument(vmiFile, await readInput(vmiFile, 'VMI')));
  if (vhostUserInterfaces(vmi, config.bindingNames).length === 0) {
    warn(`${vmiFile}: no interface is vhost-user (vhostuser: {}, or binding ${config.bindingNames.map((n) => JSON.stringify(n)).join(' or ')}); nothing to write`);
  }
  const domainFile = values['domain'];
  const domainXml = typeof domainFile === 'string' ? await readInput(domainFile, 'domain') : undefined;
  const dra = await readDraMetadata(vmi, config);
  const annotations = needsPodAnnotations(vmi, config) ? await loadPodAnnotations(String(values['podinfo']), vmi, config, shared.waitMs, dra) : new Map<string, string>();
  const { xml, interfaces } = convert({ annotations, vmi, config, dra, ...(domainXml !== undefined ? { domainXml } : {}) });
  await refuseSymlinkedSocketDirs(interfaces, checkedSocketDirs(config));
  // In a pod the links are made as the sidecar makes them; elsewhere the directory is not there.
  await ensureSocketLinks(interfaces, { missingDir: 'where-visible' });
  return xml.endsWith('\n') || xml === '' ? xml : `${xml}\n`;
}

/** An input file that cannot be read is bad input (exit 1), named with its role. */
export async function readInput(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError('E_INPUT', `cannot read ${what} file ${file}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
}

/** The VMI (else VM) document of a YAML/JSON file, which may hold several documents. */
export function pickVmiDocument(file: string, text: string): unknown {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length === 0) throw new ConverterError('E_VMI_INVALID', `${file}: no YAML or JSON document`);
  const values = docs.map((doc) => {
    const first = doc.errors[0];
    if (first !== undefined) throw new ConverterError('E_VMI_INVALID', `${file}: not YAML or JSON (${first.message.split('\n')[0] ?? ''})`);
    return doc.toJS() as unknown;
  });
  const kindOf = (v: unknown): unknown => (typeof v === 'object' && v !== null ? (v as { kind?: unknown }).kind : undefined);
  if (values.length > 0 && values.every((v) => kindOf(v) === 'Pod')) {
    throw new ConverterError('E_VMI_INVALID', `${file}: this is a Pod; --vmi takes the VirtualMachineInstance (kubectl get vmi <name> -o yaml), and the pod's annotations go to --podinfo`);
  }
  return values.find((v) => kindOf(v) === 'VirtualMachineInstance') ?? values.find((v) => kindOf(v) === 'VirtualMachine') ?? values[0];
}
