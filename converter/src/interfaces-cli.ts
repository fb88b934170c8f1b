// I/O edge. `kubevirt-vhostuser interfaces`: reads a pod's downward-API annotations once and
// prints its vhost-user interfaces (listPodInterfaces) as a table with the DPDK `--vdev`
// arguments, or as JSON. Output is written in one piece only on success; SR-IOV devices and
// owner-written annotations set aside are `warning:` lines on stderr.

import { allowSocketDirFlag, CONVERTER_FLAGS, waitFlag } from '../../cli/converter-flags.js';
import { HELP_OPTION, parseOptions, usageText } from '../../cli/options.js';
import { printingCommand, type Subcommand } from '../../cli/subcommand.js';
import { pickVmiDocument, readInput } from './cli.js';
import { PODINFO_DIR, SHARED_DIR } from './contract.js';
import { DEFAULT_POLL_MS } from './config.js';
import { readPodAnnotationsFile, waitForPodAnnotations } from './podnetinfo/read.js';
import { listPodInterfaces, unreportedAttachments, type PodInterfaceListing } from './pod-interfaces.js';
import { printable } from './xml/checks.js';
import { parseVmi } from './vmi.js';

const OPTIONS = {
  podinfo: { type: 'string', value: 'path', default: PODINFO_DIR, help: "downward-API directory with the pod's annotations, or its annotations file" },
  json: { type: 'boolean', help: 'print JSON: each interface with its --vdev, its Kuryr port file and its app-netutil InterfaceData' },
  'socket-dir': { type: 'string', value: 'dir', default: SHARED_DIR, help: 'the socket directory when userspace/mapped-dir is absent; socket paths may always lie in it' },
  'allow-socket-dir': CONVERTER_FLAGS['allow-socket-dir'],
  // The CNI annotations waited for: network-status listing every attachment the networks annotation asks for.
  wait: CONVERTER_FLAGS.wait,
  vmi: { type: 'string', value: 'file', help: "a virt-launcher pod's VMI: socket annotations that also stand in its metadata are set aside, as convert does" },
  ...HELP_OPTION,
} as const;

const USAGE = usageText(
  'interfaces [--podinfo <path>] [--json] [--wait <seconds>] [options]',
  "Lists every vhost-user interface of a pod from its network annotations, no VMI needed: network,\npod interface, socket path, mode (the pod's side), MAC, the annotation it came from, and a\nready DPDK argument (--vdev net_virtio_user<N>,path=...,server=0|1). SR-IOV devices and other\nattachments are passed over with the reason. It waits (--wait) until Multus has reported every\nattachment the pod's networks annotation asks for.",
  [['Options', OPTIONS]],
);

export const interfacesCommand: Subcommand = printingCommand(runInterfaces);

/** Does the whole job and returns what to print; prints nothing itself. */
export async function runInterfaces(argv: readonly string[], warn: (line: string) => void = () => {}): Promise<string> {
  const values = parseOptions(argv, OPTIONS);
  if (values['help'] === true) return USAGE;
  const allowedSocketDirs = allowSocketDirFlag(values);
  const vmiFile = values['vmi'];
  const owner = typeof vmiFile === 'string' ? parseVmi(pickVmiDocument(vmiFile, await readInput(vmiFile, 'VMI'))).metadata?.annotations : undefined;
  const waitMs = waitFlag(values);
  const podinfo = String(values['podinfo']);
  const annotations =
    waitMs === 0 ? await readPodAnnotationsFile(podinfo) : await waitForPodAnnotations(podinfo, { timeoutMs: waitMs, pollMs: DEFAULT_POLL_MS, missing: (a) => unreportedAttachments(a) });
  const listing = listPodInterfaces({
    annotations,
    config: { socketDir: String(values['socket-dir']), allowedSocketDirs },
    ...(owner !== undefined ? { ownerAnnotations: owner } : {}),
  });
  for (const p of listing.passedOver) if (p.kind !== 'not-vhost-user') warn(printable(p.reason));
  return values['json'] === true ? `${JSON.stringify(listing, null, 2)}\n` : formatListing(listing);
}

/** The listing as an aligned table, then the DPDK arguments, one per line, quoted for a shell. */
export function formatListing(listing: PodInterfaceListing): string {
  if (listing.interfaces.length === 0) return 'no vhost-user interfaces\n';
  const rows = [
    ['POD-INTERFACE', 'NETWORK', 'MODE', 'MAC', 'SOURCE', 'SOCKET'],
    ...listing.interfaces.map((i) => [i.podInterface, i.network ?? '-', i.mode, i.mac ?? '-', i.source, i.socketPath].map(printable)),
  ];
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => r[col]?.length ?? 0))) ?? [];
  const table = rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0))).join('  '));
  const vdevs = listing.interfaces.map((i) => `--vdev ${shellQuote(i.vdev)}`);
  return `${table.join('\n')}\n\nDPDK EAL arguments:\n${vdevs.join(' \\\n')}\n`;
}

/** Single-quoted for a POSIX shell (the arguments are checked printable already). */
function shellQuote(arg: string): string {
  return /^[\w./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
