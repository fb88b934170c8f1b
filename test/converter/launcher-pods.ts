// Test helper (I/O): virt-launcher pods and the node's OVS-DPDK, on one machine, for the
// end-to-end tests. A "pod" is a private mount namespace (`unshare -m`) with its own libvirtd,
// as every launcher pod has, its own `shared-dir` emptyDir bind-mounted at /var/lib/cni/usrcni/
// and its own hugetlbfs: the same in-pod socket path then names a different host file in every
// pod, as on two nodes. Needs root and the stack of scripts/e2e-vhostuser.sh (hugepages, OVS).
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, chown, cp, mkdir, open, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHARED_DIR } from '../../converter/src/contract.js';

/** Where the webhook mounts the `shared-dir` emptyDir in the launcher pod. */
export const POD_SHARED_DIR = SHARED_DIR.replace(/\/$/, '');

/**
 * Paths each pod covers with a directory of its own: what a launcher pod has to itself. The first
 * two lie in a tmpfs the pod mounts at /var/lib, so the host never gets a /var/lib/cni it did not
 * have (converter runs outside a pod would then find a shared dir there and write links into it).
 */
const POD_MOUNTS: ReadonlyArray<readonly [string, string]> = [
  ['shared', POD_SHARED_DIR],
  ['lib', '/var/lib/libvirt'],
  ['run', '/run/libvirt'],
  ['cache', '/var/cache/libvirt'],
  ['log', '/var/log/libvirt'],
  // Persistent domain definitions: shared, the pods would see each other's domains.
  ['etc-qemu', '/etc/libvirt/qemu'],
];
const IN_POD_TMPFS = '/var/lib';

export interface Result {
  readonly code: number;
  readonly out: string;
}

/** Runs a command to completion, bounded in time; never throws. */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, out: `${stdout}${stderr}${err?.killed === true ? `\n(killed after ${timeoutMs} ms)` : ''}` });
    });
  });
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined, for at most `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T | undefined> {
  for (const end = Date.now() + timeoutMs; ; ) {
    const value = await probe();
    if (value !== undefined || Date.now() >= end) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Creates the host mount points the pods need that the host lacks (libvirt's own directories,
 * normally there once libvirtd ran), and returns them, parents first, so that removeMountPoints
 * takes away exactly what was added.
 */
export async function addMountPoints(): Promise<string[]> {
  const created: string[] = [];
  for (const [, target] of POD_MOUNTS) {
    if (target.startsWith(`${IN_POD_TMPFS}/`)) continue;
    const parts = target.split('/').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) {
      const path = `/${parts.slice(0, i).join('/')}`;
      if (await stat(path).then(() => false, () => true)) {
        await mkdir(path);
        created.push(path);
      }
    }
  }
  return created;
}

/** Removes what addMountPoints created, if still empty (anything else put there is left alone). */
export async function removeMountPoints(created: readonly string[]): Promise<void> {
  for (const path of [...created].reverse()) await rmdir(path).catch(() => undefined);
}

export interface Pod {
  readonly name: string;
  /** This pod's state on the host. */
  readonly dir: string;
  /** The host directory of the pod's `shared-dir` emptyDir (POD_SHARED_DIR inside the pod). */
  readonly sharedDir: string;
  /** The pod's libvirtd, reached from the host through its socket. */
  readonly uri: string;
  /** The pod sandbox's container ID, which the userspace CNI names the socket after. */
  readonly containerId: string;
  /** libvirtd's pid: the process that holds the pod's mount namespace. */
  readonly pid: number;
}

export interface PodOptions {
  /**
   * Runs QEMU as this uid and gid, as a KubeVirt launcher does (107), through a qemu.conf of the
   * pod's own over the host's; the shared dir is then made as kubelet makes an emptyDir for a pod
   * with fsGroup 107: root-owned, group 107, mode 2777.
   */
  readonly qemuUser?: number;
}

const QEMU_CONF = '/etc/libvirt/qemu.conf';

/**
 * Starts a pod: a mount namespace with the pod's directories over the host paths, a hugetlbfs of
 * its own at `hugepages` (QEMU's memory-backend directory from qemu.conf), and libvirtd.
 */
export async function startPod(work: string, hugepages: string, name: string, options: PodOptions = {}): Promise<Pod> {
  const dir = join(work, `pod-${name}`);
  for (const [sub] of POD_MOUNTS) await mkdir(join(dir, sub), { recursive: true });
  const overlays: string[] = [];
  if (options.qemuUser !== undefined) {
    const id = options.qemuUser;
    const conf = (await readFile(QEMU_CONF, 'utf8')).replace(/^user = .*$/m, `user = "+${id}"`).replace(/^group = .*$/m, `group = "+${id}"`);
    await writeFile(join(dir, 'qemu.conf'), conf);
    overlays.push(`mount --bind "$1/qemu.conf" ${QEMU_CONF}`);
    // /dev/kvm open to QEMU's user, as KubeVirt's device plugin gives it to the launcher. Where
    // root may use it and QEMU's user may not, libvirtd finds its capability cache stale on
    // every lookup and probes QEMU again (about 40 s a define here).
    overlays.push('if [ -c /dev/kvm ]; then mknod -m 0666 "$1/kvm" c $((0x$(stat -c %t /dev/kvm))) $((0x$(stat -c %T /dev/kvm))); mount --bind "$1/kvm" /dev/kvm; fi');
    await chown(join(dir, 'shared'), 0, id);
    await chmod(join(dir, 'shared'), 0o2777);
  }
  // A warm QEMU capabilities cache: probing QEMU again costs each libvirtd several seconds.
  await cp('/var/cache/libvirt', join(dir, 'cache'), { recursive: true }).catch(() => undefined);
  // Migration refuses a target with the source's host UUID; the QMP log carries QEMU's own figures.
  const conf = `host_uuid = "${randomUUID()}"\nlog_filters = "1:qemu.qemu_monitor_json"\nlog_outputs = "1:file:${join(dir, 'libvirtd.log')}"\n`;
  await writeFile(join(dir, 'libvirtd.conf'), conf);
  const inTmpfs = POD_MOUNTS.filter(([, target]) => target.startsWith(`${IN_POD_TMPFS}/`)).map(([, target]) => target);
  const binds = POD_MOUNTS.map(([sub, target]) => `mount --bind "$1/${sub}" ${target}`);
  const script = [
    `mount -t tmpfs -o mode=0755 kvvu-pod ${IN_POD_TMPFS}`,
    `mkdir -p ${inTmpfs.join(' ')}`,
    ...binds,
    ...overlays,
    'mount -t hugetlbfs -o pagesize=2M none "$2"',
    'exec libvirtd -f "$1/libvirtd.conf" -p "$1/libvirtd.pid"',
  ].join('\n');
  const out = await open(join(dir, 'libvirtd.out'), 'a');
  // unshare and sh exec in place: the child's pid is libvirtd's.
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-ec', script, 'sh', dir, hugepages], { stdio: ['ignore', out.fd, out.fd] });
  await out.close();
  let gone = false;
  child.on('exit', () => (gone = true));
  child.on('error', () => (gone = true));
  if (child.pid === undefined) throw new Error(`pod ${name}: unshare did not start`);
  const pod: Pod = { name, dir, sharedDir: join(dir, 'shared'), uri: `qemu+unix:///system?socket=${join(dir, 'run', 'libvirt-sock')}`, containerId: randomBytes(32).toString('hex'), pid: child.pid };
  const ready = await waitFor(async () => (gone ? false : (await virsh(pod, ['version'], 5_000)).code === 0 ? true : undefined), 30_000, 100);
  if (ready !== true) {
    const log = await readFile(join(dir, 'libvirtd.out'), 'utf8').catch(() => '');
    await stopPod(pod);
    throw new Error(`pod ${name}: libvirtd did not answer on ${pod.uri}${gone ? ' (it exited)' : ''}\n${log}`);
  }
  return pod;
}

export function virsh(pod: Pod, args: readonly string[], timeoutMs = 30_000): Promise<Result> {
  return run('virsh', ['-q', '-c', pod.uri, ...args], timeoutMs);
}

/** A QMP command through libvirt's monitor (`virsh qemu-monitor-command`); returns `return`. */
export async function qmp(pod: Pod, domain: string, command: string): Promise<Record<string, unknown>> {
  const r = await virsh(pod, ['qemu-monitor-command', domain, JSON.stringify({ execute: command })], 10_000);
  if (r.code !== 0) throw new Error(`pod ${pod.name}: QMP ${command} failed: ${r.out}`);
  return (JSON.parse(r.out) as { return: Record<string, unknown> }).return;
}

/** The pid of the domain's QEMU from libvirt's pidfile, when that process is QEMU and alive. */
export async function qemuPid(pod: Pod, domain: string): Promise<number | undefined> {
  const text = await readFile(join(pod.dir, 'run', 'qemu', `${domain}.pid`), 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('qemu-system') ? pid : undefined;
}

/** The domain's QEMU log in the pod (libvirt's stdio_handler "file"). */
export function domainLog(pod: Pod, domain: string): Promise<string> {
  return readFile(join(pod.dir, 'log', 'qemu', `${domain}.log`), 'utf8').catch(() => '');
}

async function killAndWait(pid: number, waitMs: number): Promise<void> {
  const alive = () => stat(`/proc/${pid}`).then(() => true, () => false);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if ((await waitFor(async () => ((await alive()) ? undefined : true), waitMs)) === true) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitFor(async () => ((await alive()) ? undefined : true), 5_000);
}

/** Kills the domain's QEMU by its pid, as deleting the pod would; true if there was one. */
export async function killQemu(pod: Pod, domain: string): Promise<boolean> {
  const pid = await qemuPid(pod, domain);
  if (pid === undefined) return false;
  await killAndWait(pid, 5_000);
  return true;
}

/**
 * Ends the pod: its domains' QEMUs, then libvirtd. The namespace, and with it the bind mounts and
 * the pod's hugetlbfs, goes away with its last process. Safe to call twice.
 */
export async function stopPod(pod: Pod): Promise<void> {
  const pidfiles = await readdir(join(pod.dir, 'run', 'qemu')).catch(() => [] as string[]);
  for (const file of pidfiles) if (file.endsWith('.pid')) await killQemu(pod, file.slice(0, -'.pid'.length));
  await killAndWait(pod.pid, 10_000);
}

// --- OVS, in the root namespace as on the node ---

export class Ovs {
  constructor(private readonly dir: string) {}

  get db(): string {
    return `unix:${join(this.dir, 'db.sock')}`;
  }

  get logFile(): string {
    return join(this.dir, 'ovs-vswitchd.log');
  }

  vsctl(args: readonly string[], timeoutMs = 20_000): Promise<Result> {
    return run('ovs-vsctl', [`--db=${this.db}`, `--timeout=${Math.ceil(timeoutMs / 1000)}`, ...args], timeoutMs + 2_000);
  }

  /** The port the userspace CNI adds for a server-mode socket: OVS is the vhost-user client of `path`. */
  async addClientPort(name: string, path: string): Promise<void> {
    const r = await this.vsctl(['add-port', 'br0', name, '--', 'set', 'Interface', name, 'type=dpdkvhostuserclient', `options:vhost-server-path=${path}`]);
    if (r.code !== 0) throw new Error(`ovs-vsctl add-port ${name}: ${r.out}`);
  }

  /** The Interface's `status` column: `status=connected` once the vhost device runs. */
  async status(name: string): Promise<Record<string, string>> {
    const r = await this.vsctl(['get', 'Interface', name, 'status'], 5_000);
    const map: Record<string, string> = {};
    for (const m of r.out.matchAll(/([\w-]+)=(?:"([^"]*)"|([^,}]*))/g)) map[m[1] ?? ''] = m[2] ?? m[3] ?? '';
    return map;
  }

  /** `ovs-appctl` on the running ovs-vswitchd (its control socket is named after its pid). */
  async appctl(args: readonly string[]): Promise<Result> {
    const pid = (await readFile(join(this.dir, 'ovs-vswitchd.pid'), 'utf8').catch(() => '')).trim();
    return run('ovs-appctl', ['-t', join(this.dir, `ovs-vswitchd-dpdk.${pid}.ctl`), ...args], 5_000);
  }

  /**
   * Packets the datapath has received on the port, read live (`dpctl/show -s`); the OVSDB
   * statistics column is only refreshed every few seconds.
   */
  async rxPackets(name: string): Promise<number> {
    const r = await this.appctl(['dpctl/show', '-s']);
    // Not by line: a port without stats ends its line with an error and no newline.
    const at = r.out.indexOf(`: ${name} (`);
    const m = at < 0 ? null : r.out.slice(at).match(/^[^\n]*\n\s*RX packets:(\d+)/);
    return m?.[1] === undefined ? 0 : Number(m[1]);
  }

  /** The log's length now, to read only what comes after (`logSince`). */
  async logMark(): Promise<number> {
    return (await stat(this.logFile).catch(() => ({ size: 0 }))).size;
  }

  async logSince(mark: number): Promise<string> {
    return (await readFile(this.logFile)).subarray(mark).toString('utf8');
  }
}

/** The time of the first line of an OVS log excerpt that contains `text`, in ms since the epoch. */
export function ovsLogTime(log: string, text: string): number | undefined {
  const line = log.split('\n').find((l) => l.includes(text));
  const stamp = line?.match(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z/)?.[1];
  return stamp === undefined ? undefined : Date.parse(`${stamp}Z`);
}
