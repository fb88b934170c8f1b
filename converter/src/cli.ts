// I/O edge. `kubevirt-vhostuser convert`: reads the pod's downward-API annotations, a VMI and
// optionally a domain, and prints the rewritten domain (or the interface elements). Output is
// written in one piece only on success; any failure is one `error:` line on stderr.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { Subcommand } from '../../cli/main.js';
import { parseConverterConfig } from './config.js';
import { socketDirProblem } from './contract.js';
import { ConverterError } from './errors.js';
import { convert, loadPodAnnotations } from './index.js';
import { ensureSocketLinks, refuseSymlinkedSocketDirs } from './socket-files.js';
import { allowedSocketDirs } from './socket-path.js';
import { parseVmi } from './vmi.js';

const USAGE = `Usage: kubevirt-vhostuser convert --podinfo <dir|file> --vmi <file> [options]

Writes libvirt <interface type='vhostuser'> elements for the vhost-user interfaces of a KubeVirt
VMI, from the network annotations of its virt-launcher pod.

Options:
  --podinfo <path>       downward-API directory (e.g. /etc/podnetinfo) or its annotations file
  --vmi <file>           the VirtualMachineInstance (or VirtualMachine), YAML or JSON
  --domain <file>        a libvirt domain to rewrite; without it only the interfaces are printed
  --wait <seconds>       wait up to this long for the CNI annotations (default 0: read once)
  --socket-dir <dir>     socket directory in the pod when userspace/mapped-dir is absent
                         (default /var/lib/cni/usrcni/); socket paths may always lie in it
  --allow-socket-dir <dir>
                         another directory socket paths may lie in (repeatable)
  --cni-socket-paths     QEMU uses the CNI's socket path as it is, not the stable vu-<hash>
                         name in the shared dir (which a live migration needs)
  --kubevirt-network-info
                         the binding has downwardAPI: device-info, so KubeVirt writes
                         kubevirt.io/network-info and it outranks the CNI annotations
  --binding-name <name>  binding plugin name treated as vhost-user (repeatable; default vhostuser)
  -h, --help             show this help
`;

/** Bad command line: exit 2, like the dispatcher. */
class UsageError extends Error {}

export const convertCommand: Subcommand = {
  summary: 'write libvirt vhost-user interfaces from /etc/podnetinfo annotations and a VMI',
  async run(argv: string[]): Promise<number> {
    try {
      const output = await runConvert(argv);
      process.stdout.write(output);
      return 0;
    } catch (err) {
      process.stderr.write(`error: ${describeError(err)}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
  },
};

/** Does the whole job and returns what to print; prints nothing itself. */
export async function runConvert(argv: readonly string[]): Promise<string> {
  const args = parseCommandLine(argv);
  if (args.help) return USAGE;
  const settings = {
    ...(args.socketDir !== undefined ? { socketDir: args.socketDir } : {}),
    ...(args.bindingNames.length > 0 ? { bindingNames: args.bindingNames } : {}),
    allowedSocketDirs: args.allowedSocketDirs,
    kubevirtNetworkInfo: args.kubevirtNetworkInfo,
    stableSocketPaths: !args.cniSocketPaths,
  };
  const config = parseConverterConfig(settings);
  const vmi = parseVmi(pickVmiDocument(args.vmi, await readInput(args.vmi, 'VMI')));
  const domainXml = args.domain === undefined ? undefined : await readInput(args.domain, 'domain');
  const annotations = await loadPodAnnotations(args.podinfo, vmi, config, args.waitMs);
  const { xml, interfaces } = convert({ annotations, vmi, config, ...(domainXml !== undefined ? { domainXml } : {}) });
  await refuseSymlinkedSocketDirs(interfaces, allowedSocketDirs(config));
  // In a pod the links are made as the sidecar makes them; elsewhere the directory is not there.
  await ensureSocketLinks(interfaces, { missingDir: 'where-visible' });
  return xml.endsWith('\n') || xml === '' ? xml : `${xml}\n`;
}

interface CommandLine {
  readonly help: boolean;
  readonly podinfo: string;
  readonly vmi: string;
  readonly domain?: string;
  readonly waitMs: number;
  readonly socketDir?: string;
  readonly bindingNames: string[];
  readonly allowedSocketDirs: string[];
  readonly kubevirtNetworkInfo: boolean;
  readonly cniSocketPaths: boolean;
}

function parseCommandLine(argv: readonly string[]): CommandLine {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        podinfo: { type: 'string' },
        vmi: { type: 'string' },
        domain: { type: 'string' },
        wait: { type: 'string' },
        'socket-dir': { type: 'string' },
        'allow-socket-dir': { type: 'string', multiple: true },
        'kubevirt-network-info': { type: 'boolean' },
        'cni-socket-paths': { type: 'boolean' },
        'binding-name': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
  if (values.help === true) return { help: true, podinfo: '', vmi: '', waitMs: 0, bindingNames: [], allowedSocketDirs: [], kubevirtNetworkInfo: false, cniSocketPaths: false };
  if (values.podinfo === undefined) throw new UsageError('missing --podinfo <dir|file> (see --help)');
  if (values.vmi === undefined) throw new UsageError('missing --vmi <file> (see --help)');
  for (const dir of values['allow-socket-dir'] ?? []) {
    const problem = socketDirProblem(dir);
    if (problem !== undefined) throw new UsageError(`--allow-socket-dir ${JSON.stringify(dir)} ${problem}`);
  }
  const wait = values.wait === undefined ? 0 : Number(values.wait);
  if (values.wait !== undefined && (values.wait.trim() === '' || !Number.isFinite(wait) || wait < 0)) {
    throw new UsageError(`--wait ${JSON.stringify(values.wait)}: expected a number of seconds >= 0`);
  }
  return {
    help: false,
    podinfo: values.podinfo,
    vmi: values.vmi,
    waitMs: Math.round(wait * 1000),
    bindingNames: values['binding-name'] ?? [],
    allowedSocketDirs: values['allow-socket-dir'] ?? [],
    kubevirtNetworkInfo: values['kubevirt-network-info'] === true,
    cniSocketPaths: values['cni-socket-paths'] === true,
    ...(values.domain !== undefined ? { domain: values.domain } : {}),
    ...(values['socket-dir'] !== undefined ? { socketDir: values['socket-dir'] } : {}),
  };
}

async function readInput(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} file ${file}: ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
}

/** The VMI (else VM) document of a YAML/JSON file, which may hold several documents. */
function pickVmiDocument(file: string, text: string): unknown {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length === 0) throw new ConverterError('E_VMI_INVALID', `${file}: no YAML or JSON document`);
  const values = docs.map((doc) => {
    const first = doc.errors[0];
    if (first !== undefined) throw new ConverterError('E_VMI_INVALID', `${file}: not YAML or JSON (${first.message.split('\n')[0] ?? ''})`);
    return doc.toJS() as unknown;
  });
  const kindOf = (v: unknown): unknown => (typeof v === 'object' && v !== null ? (v as { kind?: unknown }).kind : undefined);
  return values.find((v) => kindOf(v) === 'VirtualMachineInstance') ?? values.find((v) => kindOf(v) === 'VirtualMachine') ?? values[0];
}

/** One line, no stack: the code and message of our errors, the message of anything else. */
function describeError(err: unknown): string {
  const text = err instanceof ConverterError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ');
}
