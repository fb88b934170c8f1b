// I/O edge. `kubevirt-vhostuser doctor`: run in our sidecar container (kubectl exec), it reports
// what the pod shows: the downward-API files and their age, how the converter resolves each
// vhost-user interface of the VMI (the converter's own resolver, nothing re-decided here), and for
// each socket whether the file is there and, from /proc/net/unix, whether something listens on it
// and is connected. It only reads: no link is made, no socket is connected to.
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CONVERTER_FLAGS, converterFlags } from './converter-flags.js';
import { HELP_OPTION, parseOptions, usageText } from './options.js';
import { CliError, EXIT, reportError, type Subcommand } from './subcommand.js';
import { BINDING_NAME_ENV, DRA_METADATA_ROOT, NETWORK_INFO_FILE, PODINFO_DIR, SHARED_DIR, SOCKET_DIRS_ENV } from '../converter/src/contract.js';
import { parseConverterConfig, type ConverterConfig } from '../converter/src/config.js';
import { isConverterError } from '../converter/src/errors.js';
import type { ResolvedInterface } from '../converter/src/model.js';
import { pickVmiDocument, readInput } from '../converter/src/cli.js';
import { needsPodAnnotations, readDraMetadata } from '../converter/src/dra-files.js';
import { readPodAnnotationsFile } from '../converter/src/podnetinfo/read.js';
import { resolveAvailable, vhostUserInterfaces } from '../converter/src/resolve.js';
import { parseVmi, type Vmi } from '../converter/src/vmi.js';
import { interfaceOutcome, type InterfaceOutcome } from '../sidecar/src/on-define-domain.js';

const OPTIONS = {
  podinfo: { type: 'string', value: 'path', default: PODINFO_DIR, help: "downward-API directory with the pod's annotations (the webhook's mount)" },
  vmi: { type: 'string', value: 'file', help: "the VirtualMachineInstance, YAML or JSON; '-' reads it from stdin (kubectl get vmi <name> -o json | kubectl exec -i ...)" },
  'socket-dir': { type: 'string', value: 'dir', default: SHARED_DIR, help: 'the shared dir, where the sockets are' },
  'dra-root': { type: 'string', value: 'dir', default: DRA_METADATA_ROOT, help: 'where the kubelet mounts DRA device metadata (KEP-5304), read for networks with resourceClaim' },
  'binding-name': CONVERTER_FLAGS['binding-name'],
  'allow-socket-dir': CONVERTER_FLAGS['allow-socket-dir'],
  'cni-socket-paths': CONVERTER_FLAGS['cni-socket-paths'],
  'proc-net-unix': { type: 'string', value: 'file', default: '/proc/net/unix', help: "the kernel's table of unix sockets of this network namespace (the pod's)" },
  json: { type: 'boolean', help: 'print the report as JSON' },
  ...HELP_OPTION,
} as const;

const USAGE = usageText(
  'doctor [--vmi <file>|-] [options]',
  `Reports what this container sees of the pod's vhost-user set-up, one check per line: the
downward-API files and their age, each vhost-user interface as the converter resolves it (socket,
the annotation it came from), and each socket's file and peers (listening, connected). Run it in
the sidecar container: kubectl exec -i <launcher pod> -c hook-sidecar-0 -- ... doctor --vmi -
with the VMI on stdin. It changes nothing. ${BINDING_NAME_ENV} and ${SOCKET_DIRS_ENV} count as
they do for hook-sidecar. Exits 1 naming the first check that failed.`,
  [['Options', OPTIONS]],
);

export type CheckStatus = 'ok' | 'failed' | 'skipped';

export interface Check {
  readonly check: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** The error code of a failed check. */
  readonly code?: string;
}

export interface PodinfoFile {
  readonly path: string;
  readonly bytes: number;
  /** Seconds since the kubelet last wrote it. */
  readonly ageSeconds: number;
}

/** One unix socket path as /proc/net/unix shows it. */
export interface SocketPeers {
  readonly listening: number;
  readonly connected: number;
}

export interface SocketFile {
  readonly path: string;
  /** `socket`, `symlink` (with `target`), `absent` or `other`. */
  readonly kind: 'socket' | 'symlink' | 'absent' | 'other';
  readonly target?: string;
  readonly peers?: SocketPeers;
}

/** An interface as the sidecar's log line shows it (only the name when it did not resolve), its mode and socket files. */
export interface InterfaceReport extends Partial<Omit<InterfaceOutcome, 'name'>> {
  readonly name: string;
  readonly mode?: string;
  readonly files: readonly SocketFile[];
}

export interface DoctorReport {
  readonly podinfo: readonly PodinfoFile[];
  readonly vmi?: string;
  readonly interfaces: readonly InterfaceReport[];
  readonly checks: readonly Check[];
}

export interface DoctorInput {
  readonly podinfo: string;
  readonly vmi?: Vmi;
  readonly config: ConverterConfig;
  readonly procNetUnix: string;
  readonly now?: number;
}

export const doctorCommand: Subcommand = {
  async run(argv: string[]): Promise<number> {
    try {
      const values = parseOptions(argv, OPTIONS);
      if (values['help'] === true) {
        process.stdout.write(USAGE);
        return EXIT.ok;
      }
      const report = await diagnose(await doctorInput(values));
      process.stdout.write(values['json'] === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      const failed = report.checks.find((c) => c.status === 'failed');
      if (failed === undefined) return EXIT.ok;
      return reportError(new CliError(failed.code ?? 'E_DOCTOR', `check ${failed.check} failed: ${failed.detail}`));
    } catch (err) {
      return reportError(err);
    }
  },
};

async function doctorInput(values: Record<string, unknown>): Promise<DoctorInput> {
  const shared = converterFlags({ ...values, wait: '0' });
  const served = process.env[BINDING_NAME_ENV]?.trim();
  const fromEnv = (process.env[SOCKET_DIRS_ENV] ?? '').split(',').map((d) => d.trim()).filter((d) => d !== '');
  const config = parseConverterConfig({
    socketDir: values['socket-dir'],
    bindingNames: [...new Set([...(served ? [served] : []), ...shared.bindingNames])],
    allowedSocketDirs: [...fromEnv, ...shared.allowedSocketDirs],
    stableSocketPaths: shared.stableSocketPaths,
    kubevirtNetworkInfo: existsSync(NETWORK_INFO_FILE),
    dra: { metadataRoot: values['dra-root'] },
  });
  const vmiFile = values['vmi'];
  const vmi = typeof vmiFile === 'string' ? parseVmi(pickVmiDocument(vmiFile === '-' ? 'stdin' : vmiFile, vmiFile === '-' ? await readStdin() : await readInput(vmiFile, 'VMI'))) : undefined;
  return { podinfo: String(values['podinfo']), config, procNetUnix: String(values['proc-net-unix']), ...(vmi !== undefined ? { vmi } : {}) };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs every check that can run; a failed one does not stop those that do not depend on it.
 *
 * @example formatReport(await diagnose({ podinfo: '/etc/podnetinfo', vmi, config, procNetUnix: '/proc/net/unix' }))
 */
export async function diagnose(input: DoctorInput): Promise<DoctorReport> {
  const now = input.now ?? Date.now();
  const checks: Check[] = [];
  const podinfo = await podinfoFiles(input.podinfo, now);
  const vmi = input.vmi;
  let annotations: ReadonlyMap<string, string> | undefined;
  try {
    annotations = await readPodAnnotationsFile(input.podinfo);
    checks.push({ check: 'podinfo', status: 'ok', detail: `${annotations.size} annotations in ${input.podinfo}` });
  } catch (err) {
    const needed = vmi === undefined || needsPodAnnotations(vmi, input.config);
    checks.push(needed ? failed('podinfo', err) : { check: 'podinfo', status: 'skipped', detail: 'not needed: every vhost-user network of the VMI is a DRA network' });
  }
  const vmiRef = vmi === undefined ? undefined : [vmi.metadata?.namespace, vmi.metadata?.name ?? '<unnamed>'].filter((p) => p !== undefined && p !== '').join('/');
  if (vmi === undefined) {
    checks.push({ check: 'interfaces', status: 'skipped', detail: 'no --vmi: pipe the VMI in (kubectl get vmi <name> -o json | kubectl exec -i ... doctor --vmi -)' });
    return { podinfo, interfaces: [], checks };
  }
  const wanted = vhostUserInterfaces(vmi, input.config.bindingNames);
  if (wanted.length === 0) {
    const names = input.config.bindingNames.map((n) => JSON.stringify(n)).join(' or ');
    checks.push({ check: 'interfaces', status: 'failed', code: 'E_NO_VHOSTUSER', detail: `VMI ${vmiRef ?? ''} has no vhost-user interface (vhostuser: {}, or binding ${names})` });
    return { podinfo, ...(vmiRef !== undefined ? { vmi: vmiRef } : {}), interfaces: [], checks };
  }
  const unresolved = { podinfo, ...(vmiRef !== undefined ? { vmi: vmiRef } : {}), interfaces: wanted.map((i) => ({ name: i.name, files: [] })), checks };
  // DRA networks read the kubelet's device metadata instead of the annotations, as the sidecar does.
  if (annotations === undefined && needsPodAnnotations(vmi, input.config)) return unresolved;
  let dra;
  try {
    dra = await readDraMetadata(vmi, input.config);
  } catch (err) {
    checks.push(failed(`interface ${isConverterError(err) ? (err.details.iface ?? '') : ''}`.trim(), err));
    return unresolved;
  }
  const unix = await readProcNetUnix(input.procNetUnix);
  const interfaces: InterfaceReport[] = [];
  let outcome;
  try {
    outcome = resolveAvailable(annotations ?? new Map(), vmi, input.config, dra);
  } catch (err) {
    checks.push(failed(`interface ${isConverterError(err) ? (err.details.iface ?? '') : ''}`.trim(), err));
    return unresolved;
  }
  for (const iface of wanted) {
    const pending = outcome.pending.find((p) => p.iface === iface.name);
    if (pending !== undefined) {
      interfaces.push({ name: iface.name, files: [] });
      checks.push(failed(`interface ${iface.name}`, pending.error));
      continue;
    }
    const r = outcome.resolved.find((x) => x.vmiInterface === iface.name);
    if (r === undefined) continue;
    const files = await Promise.all([r.socketPath, ...(r.cniSocketPath !== undefined ? [r.cniSocketPath] : [])].map((p) => socketFile(p, unix)));
    interfaces.push({ ...interfaceOutcome(r), mode: r.mode, files });
    const podIface = r.podInterface === '' ? '' : `pod interface ${r.podInterface}, `;
    checks.push({ check: `interface ${r.vmiInterface}`, status: 'ok', detail: `socket ${r.socketPath} from ${r.socketSource ?? 'the annotations'} (${podIface}QEMU as ${r.mode})` });
    checks.push(socketCheck(r, files));
  }
  return { podinfo, ...(vmiRef !== undefined ? { vmi: vmiRef } : {}), interfaces, checks };
}

function failed(check: string, err: unknown): Check {
  const code = (err as { code?: unknown } | null)?.code;
  return { check, status: 'failed', detail: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) };
}

/** The files of the downward-API directory (or the one file), resolved through kubelet's `..data` links. */
async function podinfoFiles(podinfo: string, now: number): Promise<PodinfoFile[]> {
  let names: string[];
  try {
    names = (await stat(podinfo)).isDirectory() ? (await readdir(podinfo)).filter((n) => !n.startsWith('..')).sort().map((n) => join(podinfo, n)) : [podinfo];
  } catch {
    return [];
  }
  if (existsSync(NETWORK_INFO_FILE) && !names.includes(NETWORK_INFO_FILE)) names.push(NETWORK_INFO_FILE);
  const files: PodinfoFile[] = [];
  for (const path of names) {
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile() === true) files.push({ path, bytes: st.size, ageSeconds: Math.max(0, Math.round((now - st.mtimeMs) / 1000)) });
  }
  return files;
}

/**
 * Listening and connected counts per bound path, from /proc/net/unix (`Num RefCount Protocol Flags
 * Type St Inode Path`): a listener has the accept flag (0x10000) in Flags; a connection accepted
 * on it is state 03 (connected) and carries the listener's path. Only this network namespace's
 * sockets are listed: the pod's, not the node's (OVS's side is one of the accepted connections).
 */
export function parseProcNetUnix(text: string): Map<string, SocketPeers> {
  const byPath = new Map<string, { listening: number; connected: number }>();
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const flags = Number.parseInt(fields[3] ?? '', 16);
    const state = fields[5];
    const path = fields.slice(7).join(' ');
    const entry = byPath.get(path) ?? { listening: 0, connected: 0 };
    if ((flags & 0x10000) !== 0) entry.listening++;
    else if (state === '03') entry.connected++;
    byPath.set(path, entry);
  }
  return byPath;
}

async function readProcNetUnix(file: string): Promise<Map<string, SocketPeers> | undefined> {
  try {
    return parseProcNetUnix(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

async function socketFile(path: string, unix: Map<string, SocketPeers> | undefined): Promise<SocketFile> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return { path, kind: 'absent' };
  if (st.isSymbolicLink()) return { path, kind: 'symlink', target: await readlink(path) };
  if (!st.isSocket()) return { path, kind: 'other' };
  return { path, kind: 'socket', ...(unix !== undefined ? { peers: unix.get(path) ?? { listening: 0, connected: 0 } } : {}) };
}

/**
 * QEMU as server (the usual mode) binds `socket` in this pod: it must be a socket with a listener,
 * and OVS's connection shows as a connected peer. QEMU as client connects to OVS, which listens
 * outside this network namespace: only the file can be checked.
 */
function socketCheck(r: ResolvedInterface, files: readonly SocketFile[]): Check {
  const check = `socket ${r.vmiInterface}`;
  const { mode, socketLink } = r;
  // With a link, the socket itself is the other name: the stable one when QEMU serves, the CNI's when OVS does.
  const link = socketLink === undefined ? undefined : files.find((f) => f.path === socketLink.path);
  const main = files.find((f) => f !== link);
  const path = main?.path ?? r.socketPath;
  if (main === undefined || main.kind === 'absent') {
    return { check, status: 'failed', code: 'E_SOCKET_ABSENT', detail: `${path} does not exist: ${mode === 'server' ? 'QEMU has not created it (is the VM running? is its directory, the shared-dir volume for a CNI socket, mounted in compute?)' : 'OVS has not created it'}` };
  }
  if (main.kind === 'other') return { check, status: 'failed', code: 'E_SOCKET_ABSENT', detail: `${path} is not a socket` };
  if (link !== undefined && socketLink !== undefined && (link.kind !== 'symlink' || link.target !== socketLink.target)) {
    const is = link.kind === 'absent' ? 'missing' : link.kind === 'symlink' ? `a link to ${link.target ?? '?'}` : `a ${link.kind}`;
    return { check, status: 'failed', code: 'E_SOCKET_LINK', detail: `${link.path} is ${is}, not a link to ${socketLink.target} (the hook sidecar makes it when it defines the domain)` };
  }
  if (mode !== 'server' || main.peers === undefined) return { check, status: 'ok', detail: `${path} is a socket (its listener is outside this pod, not visible here)` };
  if (main.peers.listening === 0) return { check, status: 'failed', code: 'E_SOCKET_NOT_LISTENING', detail: `${path} is a socket nothing listens on: QEMU is gone or the file is stale` };
  if (main.peers.connected === 0) return { check, status: 'failed', code: 'E_SOCKET_NO_PEER', detail: `QEMU listens on ${path} but nothing is connected: OVS has not connected (see its dpdkvhostuserclient port)` };
  return { check, status: 'ok', detail: `QEMU listens on ${path}, ${main.peers.connected} connected` };
}

/** The report as text: the files, the interfaces, then one line per check. */
export function formatReport(report: DoctorReport): string {
  const out: string[] = [];
  out.push(`podinfo files:${report.podinfo.length === 0 ? ' none' : ''}`);
  for (const f of report.podinfo) out.push(`  ${f.path}  ${f.bytes} bytes, written ${f.ageSeconds} s ago`);
  if (report.vmi !== undefined) out.push(`VMI ${report.vmi}`);
  for (const i of report.interfaces) {
    out.push(`interface ${i.name}${i.podInterface !== undefined && i.podInterface !== '' ? ` (pod interface ${i.podInterface})` : ''}`);
    if (i.socket !== undefined) out.push(`  socket ${i.socket}${i.source !== undefined ? ` from ${i.source}` : ''}, QEMU as ${i.mode ?? '?'}`);
    for (const f of i.files) {
      const peers = f.peers === undefined ? '' : `, ${f.peers.listening} listening, ${f.peers.connected} connected`;
      out.push(`  ${f.path}: ${f.kind}${f.target !== undefined ? ` -> ${f.target}` : ''}${peers}`);
    }
  }
  for (const c of report.checks) out.push(`${c.status.padEnd(7)} ${c.check}: ${c.code !== undefined ? `${c.code}: ` : ''}${c.detail}`);
  return `${out.join('\n')}\n`;
}
