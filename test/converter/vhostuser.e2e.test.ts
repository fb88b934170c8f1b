// End to end on the real stack, no mocks: a domain rewritten by the converter is defined and
// started by libvirtd with QEMU (TCG), QEMU creates the vhost-user socket at the converter's path,
// and OVS-DPDK connects to it through a dpdkvhostuserclient port. Then, on the same stack, a live
// migration between two virt-launcher pods (mount namespaces with a libvirtd each, see
// launcher-pods.ts), its failure when the target pod lacks the socket link, and an OVS restart.
// Needs root and hugepages, as CI has; without them the tests fail (they never skip).
// scripts/e2e-vhostuser.sh starts and stops the stack; the tests of this file share it, in order.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { chown, lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert, ensureSocketLinks, hashedPodInterfaceName } from '../../converter/src/index.js';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { formatDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { rewriteDomain } from '../../converter/src/xml/index.js';
import {
  addMountPoints,
  domainLog,
  killQemu,
  Ovs,
  ovsLogTime,
  POD_SHARED_DIR,
  qemuPid,
  qmp,
  removeMountPoints,
  run,
  sleep,
  startPod,
  stopPod,
  virsh,
  waitFor,
  type Pod,
  type PodOptions,
  type Result,
} from './launcher-pods.js';
import { stackDown, stackUp, writeFigures } from './e2e-stack.js';
import { defineRequest, hookClient, resultXml, services as hookServices } from '../sidecar/helpers.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/e2e-vhostuser.sh', import.meta.url));
const URI = 'qemu:///system';
const NAME = `kvvu-e2e-${process.pid}`;

let dir = '';
let ovs: Ovs;
let mountPoints: string[] = [];
/** Users the tests created; removed after the stack is down (a user with processes cannot be). */
const accounts: string[] = [];
const pods = new Set<Pod>();
/** Measured figures, written to bench/results/e2e-vhostuser.json (tests may not print). */
const figures: Record<string, number> = {};

beforeAll(async () => {
  ({ dir, ovs } = await stackUp('/tmp/kvvu-e2e-'));
  mountPoints = await addMountPoints();
}, 90_000);

afterAll(async () => {
  for (const pod of pods) await stopPod(pod);
  await removeMountPoints(mountPoints);
  const down = await stackDown(dir);
  for (const user of accounts) await run('userdel', [user]);
  if (accounts.length > 0) await run('groupdel', [OVS_GROUP]);
  await writeFigures('e2e-vhostuser', figures);
  expect(down.code, down.out).toBe(0);
}, 120_000);

/** `virsh start` blocks until the backend connects to a server-mode socket, so it runs in the background. */
function startInBackground(file: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('virsh', ['-q', '-c', URI, 'start', NAME], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 40_000 });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => resolve({ code: 127, out: `${out}${err.message} (${file})` }));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

async function waitForSocket(path: string, timeoutMs: number): Promise<boolean> {
  return (await waitFor(async () => ((await stat(path).catch(() => null))?.isSocket() === true ? true : undefined), timeoutMs, 100)) === true;
}

/**
 * A small TCG guest with 2 MiB hugepages; the rewrite adds the interface and shared access.
 * `os` adds to its <os> element.
 */
function baseDomain(name = NAME, os = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <memoryBacking>
    <hugepages>
      <page size='2048' unit='KiB'/>
    </hugepages>
  </memoryBacking>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>${os}
  </os>
  <cpu mode='custom' match='exact'>
    <model fallback='allow'>qemu64</model>
  </cpu>
  <devices>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

describe('vhost-user end to end: converter -> libvirtd -> QEMU -> OVS-DPDK', () => {
  it('starts the VM and OVS-DPDK connects to the socket at the converter\'s path', { timeout: 90_000 }, async () => {
    const socketPath = join(dir, 'usrcni', 'abc-net1');
    const ovsDb = `unix:${join(dir, 'ovs', 'db.sock')}`;
    const iface: ResolvedInterface = {
      vmiInterface: 'net1',
      network: 'userspace-ovs-net-1',
      podInterface: 'net1',
      socketPath,
      mode: 'server',
      model: 'virtio',
      rxQueueSize: 1024,
      txQueueSize: 1024,
      mac: '02:00:00:00:00:01',
    };
    const domain = rewriteDomain(baseDomain(), [iface]);
    expect(domain).toContain("<access mode='shared'/>");
    const file = join(dir, 'domain.xml');
    await writeFile(file, domain);
    await writeFile(join(dir, 'domain-name'), NAME);
    const define = await run('virsh', ['-q', '-c', URI, 'define', '--validate', file]);
    expect(define.code, define.out).toBe(0);

    const started = startInBackground(file);
    expect(await waitForSocket(socketPath, 20_000), `QEMU created no socket at ${socketPath}`).toBe(true);
    const port = await run('ovs-vsctl', [`--db=${ovsDb}`, '--timeout=20', 'add-port', 'br0', 'vhu-net1', '--', 'set', 'Interface', 'vhu-net1', 'type=dpdkvhostuserclient', `options:vhost-server-path=${socketPath}`]);
    expect(port.code, port.out).toBe(0);
    const start = await started;
    expect(start.code, start.out).toBe(0);

    const state = await run('virsh', ['-q', '-c', URI, 'domstate', NAME]);
    expect(state.out.trim()).toBe('running');
    const ifaces = await run('virsh', ['-q', '-c', URI, 'domiflist', NAME]);
    expect(ifaces.out).toMatch(new RegExp(`vhostuser\\s+${socketPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+virtio\\s+02:00:00:00:00:01`));
    const log = await readFile(join(dir, 'ovs', 'ovs-vswitchd.log'), 'utf8');
    expect(log).toContain(`vHost User device 'vhu-net1' created`);
    expect(log.match(/VHOST_CONFIG.*read message/g)?.length ?? 0).toBeGreaterThan(5);
  });
});

/** Every golden domain the converter and the sidecar produce (fixtures/cases, fixtures/sidecar/expected). */
function goldenDomains(): { name: string; xml: string }[] {
  const root = fileURLToPath(new URL('../../fixtures/', import.meta.url));
  const cases = readdirSync(join(root, 'cases'))
    .filter((c) => existsSync(join(root, 'cases', c, 'domain.xml')) && existsSync(join(root, 'cases', c, 'expected.xml')))
    .map((c) => ({ name: `cases/${c}`, xml: readFileSync(join(root, 'cases', c, 'expected.xml'), 'utf8') }));
  const sidecar = readdirSync(join(root, 'sidecar/expected'))
    .filter((f) => f.endsWith('.xml'))
    .map((f) => ({ name: `sidecar/${f}`, xml: readFileSync(join(root, 'sidecar/expected', f), 'utf8') }));
  return [...cases, ...sidecar];
}

describe('every golden domain on the real QEMU driver', () => {
  // The test driver accepts what QEMU would refuse (a PCI address on a bus that does not exist,
  // two devices at one address); the QEMU driver assigns and checks addresses as it would at start.
  it.each(goldenDomains().map((d) => [d.name, d] as const))('%s is defined by libvirt\'s QEMU driver', { timeout: 60_000 }, async (name, { xml }) => {
    const vm = `kvvu-golden-${process.pid}-${name.replace(/[^a-z0-9]+/gi, '-')}`.slice(0, 60);
    // TCG here (no /dev/kvm on build machines); everything else exactly as produced.
    const domain = xml.replace(/<domain type=(["'])kvm\1/, '<domain type=$1qemu$1').replace(/<name>[^<]*<\/name>/, `<name>${vm}</name>`);
    const file = join(dir, `${vm}.xml`);
    await writeFile(file, domain);
    try {
      const define = await run('virsh', ['-q', '-c', URI, 'define', file]);
      expect(define.code, define.out).toBe(0);
      const dumped = await run('virsh', ['-q', '-c', URI, 'dumpxml', vm]);
      expect(dumped.out).toContain("type='vhostuser'");
    } finally {
      await run('virsh', ['-q', '-c', URI, 'undefine', vm]);
    }
  });
});

// --- Live migration between two launcher pods, on the design's stable socket path ---

/** The VMI network, and the path QEMU binds in every pod of the VMI: `vu-` + sha256("blue")[:11]. */
const NETWORK = 'blue';
const NAD = 'userspace-ovs';
const STABLE_NAME = 'vu-16477688c0e';
const STABLE_PATH = '/var/lib/cni/usrcni/vu-16477688c0e';
/** KubeVirt >= 1.0 names the pod interface after the same hash. */
const POD_IFACE = hashedPodInterfaceName(NETWORK);
const MAC = '02:00:00:00:0b:01';
/**
 * The guest has no disk: its firmware's iPXE drives the NIC (DHCP) for about 20 s, gives up and
 * resets it. Rebooting at once instead of after SeaBIOS's 60 s brings iPXE, and a running vhost
 * device in OVS, back within seconds, so the checks of a running device hold on a slow machine.
 */
const GUEST_OS = "\n    <bios rebootTimeout='0'/>";
const VMI = {
  apiVersion: 'kubevirt.io/v1',
  kind: 'VirtualMachineInstance',
  metadata: { name: 'vm-blue', namespace: 'vms' },
  spec: {
    domain: { devices: { interfaces: [{ name: NETWORK, binding: { name: 'vhostuser' }, macAddress: MAC }] } },
    networks: [{ name: NETWORK, multus: { networkName: NAD } }],
  },
};

/** The userspace CNI's socket (and OVS port) name in a pod: `<containerID[:12]>-<pod interface>`. */
const cniName = (pod: Pod): string => `${pod.containerId.slice(0, 12)}-${POD_IFACE}`;
/** The same socket as OVS, on the host, sees it. */
const cniHostPath = (pod: Pod): string => join(pod.sharedDir, cniName(pod));

/** What Multus and the userspace CNI write on the pod, as the downward API hands them to the sidecar. */
function podAnnotations(pod: Pod): Record<string, string> {
  return {
    'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: NAD, namespace: 'vms', interface: POD_IFACE }]),
    'k8s.v1.cni.cncf.io/network-status': JSON.stringify(
      [
        { name: 'k8s-pod-network', interface: 'eth0', ips: ['10.244.0.7'], default: true, dns: {} },
        { name: `vms/${NAD}`, interface: POD_IFACE, dns: {} },
      ],
      null,
      4,
    ),
    'userspace/configuration-data': JSON.stringify(
      [
        {
          containerId: pod.containerId,
          ifName: POD_IFACE,
          name: NAD,
          config: { engine: 'ovs-dpdk', iftype: 'vhostuser', netType: 'interface', memif: {}, vhost: { mode: 'server', socketfile: cniName(pod) }, bridge: { bridgeName: 'br0' } },
        },
      ],
      null,
      4,
    ),
    'userspace/mapped-dir': `${POD_SHARED_DIR}/`,
  };
}

/** An in-pod path as the host (and OVS) sees it: the pod's shared-dir is a host directory. */
function onHost(pod: Pod, path: string): string {
  if (!path.startsWith(`${POD_SHARED_DIR}/`)) throw new Error(`${path} is not in the pod's shared dir`);
  return join(pod.sharedDir, path.slice(POD_SHARED_DIR.length + 1));
}

/**
 * The hook sidecar's work in a pod, with the converter's own functions: the domain for this pod's
 * annotations, and the socket links, made in the pod's shared dir through its host path (the
 * directory the sidecar container sees at POD_SHARED_DIR, so the relative link is the same file).
 */
async function sidecar(pod: Pod, name: string): Promise<{ xml: string; iface: ResolvedInterface }> {
  const { xml, interfaces } = convert({ annotations: podAnnotations(pod), vmi: VMI, domainXml: baseDomain(name, GUEST_OS) });
  const [iface] = interfaces;
  if (iface === undefined || interfaces.length !== 1) throw new Error(`expected one vhost-user interface, got ${interfaces.length}`);
  const here = interfaces.map((i) => ({
    ...i,
    ...(i.socketLink === undefined ? {} : { socketLink: { path: onHost(pod, i.socketLink.path), target: i.socketLink.target } }),
    ...(i.cniSocketPath === undefined ? {} : { cniSocketPath: onHost(pod, i.cniSocketPath) }),
  }));
  await ensureSocketLinks(here, { missingDir: 'required' });
  return { xml, iface };
}

async function pod(name: string, options: PodOptions = {}): Promise<Pod> {
  const p = await startPod(dir, join(dir, 'hugepages'), name, options);
  pods.add(p);
  return p;
}

async function endPods(...list: readonly Pod[]): Promise<void> {
  await Promise.all(list.map((p) => stopPod(p)));
  for (const p of list) pods.delete(p);
}

/** Defines and starts the domain in the pod; `virsh start` returns once OVS has connected to QEMU. */
async function startVm(p: Pod, name: string, xml: string): Promise<void> {
  const file = join(p.dir, `${name}.xml`);
  await writeFile(file, xml);
  const define = await virsh(p, ['define', '--validate', file]);
  expect(define.code, define.out).toBe(0);
  const start = await virsh(p, ['start', name], 40_000);
  expect(start.code, start.out).toBe(0);
}

/** KubeVirt's destination XML: the running domain's migratable XML, unchanged. */
async function destinationXml(p: Pod, name: string): Promise<string> {
  const xml = await virsh(p, ['dumpxml', '--migratable', name]);
  expect(xml.code, xml.out).toBe(0);
  const file = join(p.dir, `${name}.dest.xml`);
  await writeFile(file, xml.out);
  return file;
}

/**
 * KubeVirt's migration flags (live, persistent on the target, the XML given). virsh drives it
 * (not peer-to-peer, which libvirt refuses towards a unix-socket URI): the same Begin, Prepare,
 * Perform, Finish and Confirm steps between the two libvirtds, with QEMU's data over TCP.
 */
function migrateArgs(name: string, destFile: string, target: Pod, port: number): string[] {
  return ['migrate', '--live', '--persistent', '--xml', destFile, '--persistent-xml', destFile, name, target.uri, `tcp://127.0.0.1:${port}`];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The lines of an OVS log excerpt that tell a vhost port's connection and device state, for messages. */
function portEvents(log: string, path: string): string {
  const events = /has been|destroyed|new device|device status|failed to connect|peer closed/;
  return log.split('\n').filter((l) => l.includes(path) && events.test(l)).join('\n');
}

const alive = (pid: number): Promise<boolean> => stat(`/proc/${pid}`).then(() => true, () => false);

/** A `name: N ms` line of `virsh domjobinfo`. */
function jobFigure(out: string, label: string): number | undefined {
  const m = out.match(new RegExp(`^${label}:\\s+(\\d+)\\s+ms`, 'm'));
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * QEMU's own `query-migrate` replies once completed, from the QMP traffic the pod's libvirtd logs;
 * the one with the largest total-time, since QEMU may report "completed" a moment before it has
 * computed its times (then 0).
 */
async function qemuMigrationStats(p: Pod): Promise<{ completed: boolean; downtimeMs?: number; totalMs?: number }> {
  const log = await readFile(join(p.dir, 'libvirtd.log'), 'utf8');
  let completed = false;
  let best: { downtimeMs: number; totalMs: number } | undefined;
  for (const m of log.matchAll(/QEMU_MONITOR_RECV_REPLY: mon=\S+ reply=(\{.*\})$/gm)) {
    const reply = (JSON.parse(m[1] ?? '{}') as { return?: Record<string, unknown> }).return;
    if (reply?.['status'] !== 'completed' || !('ram' in reply)) continue;
    completed = true;
    const totalMs = Number(reply['total-time']);
    const downtimeMs = Number(reply['downtime']);
    if (totalMs > 0 && Number.isFinite(downtimeMs) && (best === undefined || totalMs > best.totalMs)) best = { downtimeMs, totalMs };
  }
  return { completed, ...best };
}

/** Adds the figures that were measured (undefined ones were not). */
function record(measured: Record<string, number | undefined>): void {
  for (const [name, value] of Object.entries(measured)) if (value !== undefined && Number.isFinite(value)) figures[name] = value;
}

const gap = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : to - from);

describe('live migration of a vhost-user VM between two launcher pods (stable socket path + per-pod link)', () => {
  /** Waits until OVS runs the port's vhost device: the guest's iPXE drives the NIC (GUEST_OS). */
  async function deviceRuns(port: string, timeoutMs: number): Promise<boolean> {
    return (await waitFor(async () => ((await ovs.status(port)).status === 'connected' ? true : undefined), timeoutMs, 100)) === true;
  }

  it('migrates: the target QEMU binds the same stable path, OVS follows the target pod\'s link and drops the source', { timeout: 90_000 }, async () => {
    const vm = `kvvu-mig-${process.pid}`;
    const [source, target] = await Promise.all([pod('source'), pod('target')]);
    try {
      // Source pod: CNI ADD adds the OVS port at the pod's CNI name; then the sidecar writes the
      // domain and the link; then QEMU starts and binds the stable name.
      await ovs.addClientPort(cniName(source), cniHostPath(source));
      const src = await sidecar(source, vm);
      expect(src.iface.socketPath).toBe(STABLE_PATH);
      expect(src.xml).toContain(`<source type='unix' path='${STABLE_PATH}' mode='server'/>`);
      expect(await readlink(cniHostPath(source))).toBe(STABLE_NAME);
      await startVm(source, vm, src.xml);
      expect(await deviceRuns(cniName(source), 30_000), 'the source VM\'s vhost device never ran in OVS').toBe(true);
      // OVS's path is the link; it reaches QEMU's socket in the source pod.
      expect((await stat(cniHostPath(source))).isSocket()).toBe(true);

      // Target pod: CNI ADD, then target preparation, where the sidecar's domain is discarded
      // and only its link stays. The name OVS waits on differs; the path QEMU binds does not.
      const mark = await ovs.logMark();
      await ovs.addClientPort(cniName(target), cniHostPath(target));
      const tgt = await sidecar(target, vm);
      expect(cniName(target)).not.toBe(cniName(source));
      expect(tgt.iface.socketPath).toBe(src.iface.socketPath);
      expect(await readlink(cniHostPath(target))).toBe(STABLE_NAME);
      const destFile = await destinationXml(source, vm);
      expect(await readFile(destFile, 'utf8')).toContain(`<source type='unix' path='${STABLE_PATH}' mode='server'/>`);

      const sourcePid = await qemuPid(source, vm);
      expect(sourcePid).toBeDefined();
      const started = Date.now();
      const migrate = await virsh(source, migrateArgs(vm, destFile, target, await freePort()), 60_000);
      const wallMs = Date.now() - started;
      expect(migrate.code, migrate.out).toBe(0);

      // The VM runs on the target, and its source QEMU is gone.
      expect((await virsh(target, ['domstate', vm])).out.trim()).toBe('running');
      expect(await qmp(target, vm, 'query-status')).toMatchObject({ status: 'running', running: true });
      expect((await virsh(source, ['domstate', vm])).out.trim()).toBe('shut off');
      expect(await alive(sourcePid ?? 0)).toBe(false);
      expect((await stat(join(target.sharedDir, STABLE_NAME))).isSocket()).toBe(true);
      expect(await lstat(join(source.sharedDir, STABLE_NAME)).then(() => 'there', () => 'gone')).toBe('gone');

      // OVS: the target's port runs the device through the target's link; the source's does not.
      expect(await deviceRuns(cniName(target), 10_000), 'the target VM\'s vhost device never ran in OVS').toBe(true);
      expect(await ovs.status(cniName(target))).toMatchObject({ mode: 'client', status: 'connected', socket: cniHostPath(target) });
      expect((await ovs.status(cniName(source))).status).toBe('disconnected');
      const log = await ovs.logSince(mark);
      // Dirty guest pages were logged through the source's vhost-user connection while memory moved.
      expect(log).toContain(`(${cniHostPath(source)}) read message VHOST_USER_SET_LOG_BASE`);
      expect(log).toContain(`vHost Device '${cniHostPath(source)}' has been removed`);
      expect(log).toContain(`vHost Device '${cniHostPath(source)}' connection has been destroyed`);
      expect(log).toContain(`vHost Device '${cniHostPath(target)}' has been added on numa node`);
      // The target QEMU announced the guest's MAC after switch-over, through the target's port.
      expect(log).toContain(`(${cniHostPath(target)}) read message VHOST_USER_SEND_RARP`);
      const rx = await waitFor(async () => ((await ovs.rxPackets(cniName(target))) > 0 ? true : undefined), 10_000, 100);
      expect(rx, `no packet from the guest reached OVS on the target port\n${(await ovs.appctl(['dpctl/show', '-s'])).out}`).toBe(true);

      const job = (await virsh(source, ['domjobinfo', '--completed', vm])).out;
      const qemuStats = await qemuMigrationStats(source);
      expect(qemuStats.completed, 'QEMU never answered query-migrate with "completed" (source libvirtd\'s QMP log)').toBe(true);
      record({
        migration_qemu_downtime_ms: qemuStats.downtimeMs,
        migration_qemu_total_ms: qemuStats.totalMs,
        migration_libvirt_downtime_ms: jobFigure(job, 'Total downtime'),
        migration_libvirt_elapsed_ms: jobFigure(job, 'Time elapsed'),
        migration_virsh_wall_ms: wallMs,
        // From the source's device stopping (the pause) to the target's running, in OVS's log.
        migration_ovs_device_gap_ms: gap(ovsLogTime(log, `vHost Device '${cniHostPath(source)}' has been removed`), ovsLogTime(log, `vHost Device '${cniHostPath(target)}' has been added`)),
      });
    } finally {
      await endPods(source, target);
    }
  });

  it('fails cleanly when the target pod has no link: the target QEMU waits for OVS, deleting the target pod ends the migration, the source VM runs on', { timeout: 90_000 }, async () => {
    const vm = `kvvu-nolink-${process.pid}`;
    const [source, target] = await Promise.all([pod('source-2'), pod('target-2')]);
    try {
      await ovs.addClientPort(cniName(source), cniHostPath(source));
      const src = await sidecar(source, vm);
      await startVm(source, vm, src.xml);
      expect(await deviceRuns(cniName(source), 30_000), 'the source VM\'s vhost device never ran in OVS').toBe(true);
      // The target pod gets its port (CNI ADD) but no link: its sidecar never ran.
      const mark = await ovs.logMark();
      await ovs.addClientPort(cniName(target), cniHostPath(target));
      const destFile = await destinationXml(source, vm);
      const sourcePid = await qemuPid(source, vm);

      let settled = false;
      const migration = virsh(source, migrateArgs(vm, destFile, target, await freePort()), 60_000).finally(() => (settled = true));
      // The target QEMU binds the stable path and waits there for a vhost-user client before it
      // answers libvirt; OVS, on the missing CNI name, never comes.
      const waiting = `QEMU waiting for connection on: disconnected:unix:${STABLE_PATH},server=on`;
      const targetWaits = await waitFor(async () => ((await domainLog(target, vm)).includes(waiting) ? true : undefined), 20_000, 100);
      expect(targetWaits, `the target QEMU never logged "${waiting}"`).toBe(true);
      // Five OVS reconnect periods (one second each): with the link, OVS connected within one.
      await sleep(5_000);
      expect(settled, 'the migration ended although nothing could connect to the target').toBe(false);
      expect((await ovs.status(cniName(target))).status).toBe('disconnected');
      expect(await ovs.logSince(mark)).toContain(`(${cniHostPath(target)}) failed to connect: No such file or directory`);
      expect(await lstat(cniHostPath(target)).then(() => 'there', () => 'missing')).toBe('missing');

      // libvirt's Prepare waits on that QEMU and an aborted job does not reach it; KubeVirt ends a
      // failed migration by deleting the target pod, which ends its QEMU.
      const killedAt = Date.now();
      expect(await killQemu(target, vm)).toBe(true);
      const result = await migration;
      const failMs = Date.now() - killedAt;
      expect(result.code, `the migration succeeded without a link:\n${result.out}`).not.toBe(0);
      expect(result.out).toMatch(/qemu unexpectedly closed the monitor|process exited while connecting to monitor/);
      expect(failMs).toBeLessThan(15_000);

      // The source VM is unharmed: same QEMU, running, no migration job left, its vhost-user
      // connection to OVS never dropped, and no memory was ever sent (no dirty logging).
      expect(await qemuPid(source, vm)).toBe(sourcePid);
      expect((await virsh(source, ['domstate', vm])).out.trim()).toBe('running');
      expect(await qmp(source, vm, 'query-status')).toMatchObject({ status: 'running', running: true });
      expect((await virsh(source, ['domjobinfo', vm])).out).toMatch(/Job type:\s+None/);
      const log = await ovs.logSince(mark);
      expect(log).not.toContain(`vHost Device '${cniHostPath(source)}' connection has been destroyed`);
      expect(log).not.toContain(`(${cniHostPath(source)}) read message VHOST_USER_SET_LOG_BASE`);
      record({ migration_without_link_fails_after_target_pod_deleted_ms: failMs });
    } finally {
      await endPods(source, target);
    }
  });

  it('keeps the VM running through an ovs-vswitchd restart, and OVS reconnects to QEMU\'s server socket', { timeout: 90_000 }, async () => {
    const vm = `kvvu-restart-${process.pid}`;
    const only = await pod('restart');
    try {
      await ovs.addClientPort(cniName(only), cniHostPath(only));
      const { xml } = await sidecar(only, vm);
      await startVm(only, vm, xml);
      expect(await deviceRuns(cniName(only), 30_000), 'the VM\'s vhost device never ran in OVS').toBe(true);
      const pid = await qemuPid(only, vm);
      expect(pid).toBeDefined();

      const stopping = Date.now();
      const stop = await run(SCRIPT, ['ovs-stop', dir], 20_000);
      expect(stop.code, stop.out).toBe(0);
      // Without a switch the VM runs on: QEMU is the server and only lost its client.
      expect(await qmp(only, vm, 'query-status')).toMatchObject({ status: 'running', running: true });
      // What follows in the log is the new process's.
      const mark = await ovs.logMark();
      const starting = Date.now();
      const start = await run(SCRIPT, ['ovs-start', dir], 60_000);
      expect(start.code, start.out).toBe(0);

      // The new ovs-vswitchd connects to the port's path (the link to QEMU's socket); QEMU replays
      // the device state and OVS runs the device again. The log says when.
      const running = `vHost Device '${cniHostPath(only)}' has been added on numa node`;
      const log = await waitFor(async () => {
        const text = await ovs.logSince(mark);
        return text.includes(running) ? text : undefined;
      }, 20_000, 50);
      expect(log, 'OVS did not run the vhost device again after its restart').toBeDefined();
      expect(log).toContain(`vHost User device '${cniName(only)}' created in 'client' mode, using client socket '${cniHostPath(only)}'`);
      expect(log).toContain(`(${cniHostPath(only)}) new device, handle is`);
      // The guest's packets pass the reconnected port.
      const rx = await waitFor(async () => ((await ovs.rxPackets(cniName(only))) > 0 ? true : undefined), 10_000, 100);
      expect(rx, `no packet from the guest reached OVS after the restart\n${portEvents(await ovs.logSince(mark), cniHostPath(only))}`).toBe(true);
      // OVSDB's status column is not asserted here: when QEMU answers while ovs-vswitchd is still
      // configuring its bridge, OVS 3.1 runs the device but leaves "disconnected" in the column
      // until the next change of the device (seen here: 13 s, until the guest reset its NIC).
      expect(await ovs.status(cniName(only))).toMatchObject({ mode: 'client' });

      // Same QEMU, still running.
      expect(await qemuPid(only, vm)).toBe(pid);
      expect((await virsh(only, ['domstate', vm])).out.trim()).toBe('running');
      expect(await qmp(only, vm, 'query-status')).toMatchObject({ status: 'running', running: true });

      const devRuns = ovsLogTime(log ?? '', running);
      record({
        ovs_restart_stop_ms: starting - stopping,
        // From the new ovs-vswitchd's start to its connection to QEMU's socket, then to the device running.
        ovs_restart_socket_reconnect_ms: gap(starting, ovsLogTime(log ?? '', `(${cniHostPath(only)}) new device, handle is`)),
        ovs_restart_device_running_ms: gap(starting, devRuns),
        ovs_restart_outage_ms: gap(stopping, devRuns),
      });
    } finally {
      await endPods(only);
    }
  });
});

// --- A reduced-privilege OVS: the socket group ---

/** The real `hook-sidecar` command, run in a pod as the launcher runs it: uid 107, the socket group as its runAsGroup, fsGroup 107 as a supplementary group. */
interface PodSidecar {
  readonly socket: string;
  readonly stderr: () => string;
  stop(): Promise<void>;
}

async function podSidecar(p: Pod, gid: number | undefined): Promise<PodSidecar> {
  const hooks = join(p.dir, 'hooks');
  await mkdir(hooks, { recursive: true });
  await chown(hooks, QEMU_ID, QEMU_ID);
  const podinfo = join(p.dir, 'podinfo');
  await mkdir(podinfo, { recursive: true, mode: 0o755 });
  await writeFile(join(podinfo, 'annotations'), formatDownwardApiFile(podAnnotations(p)), { mode: 0o644 });
  const socket = join(hooks, 'vhostuser.sock');
  const cli = fileURLToPath(new URL('../../bin/kubevirt-vhostuser.js', import.meta.url));
  const ids = [`--reuid=${QEMU_ID}`, `--regid=${gid ?? QEMU_ID}`, `--groups=${QEMU_ID}`];
  const args = ['-t', String(p.pid), '-m', '--', 'setpriv', ...ids, '--', process.execPath, cli, 'hook-sidecar', '--socket', socket, '--podinfo', podinfo, '--network-info', join(p.dir, 'no-network-info'), '--wait', '5'];
  const env = { ...process.env, ...(gid === undefined ? {} : { KUBEVIRT_VHOSTUSER_SOCKET_GROUP: String(gid) }) };
  const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const serving = await waitFor(async () => (stderr.includes('"serving KubeVirt hook callbacks"') ? true : child.exitCode !== null ? false : undefined), 30_000, 50);
  if (serving !== true) throw new Error(`hook-sidecar did not serve in pod ${p.name}:\n${stderr}`);
  return {
    socket,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** What virt-launcher does at boot: OnDefineDomain at v1alpha3, the answer's domain. */
async function defineThrough(sc: PodSidecar, name: string): Promise<string> {
  const client = hookClient(sc.socket, hookServices.callbacks.v1alpha3);
  try {
    return resultXml(await client.call('OnDefineDomain', defineRequest(baseDomain(name, GUEST_OS), VMI)));
  } finally {
    client.close();
  }
}

/** Whether `user` could connect(2) to the unix socket at `path` now. */
async function canConnectAs(user: string, path: string): Promise<Result> {
  return run('setpriv', [`--reuid=${user}`, `--regid=${OVS_GROUP}`, '--init-groups', '/usr/bin/python3', '-c', `import socket; socket.socket(socket.AF_UNIX).connect(${JSON.stringify(path)})`], 10_000);
}

const QEMU_ID = 107;
const OVS_USER = 'kvvu-ovs';
const OVS_GROUP = 'kvvu-vhost';

describe('a reduced-privilege OVS: ovs-vswitchd as a non-root user of the socket group, QEMU as uid 107', () => {
  let gid = 0;
  let only: Pod;
  beforeAll(async () => {
    const starting = pod('group', { qemuUser: QEMU_ID });
    // The group and user a packaged OVS runs as (openvswitch:hugetlbfs), removed in afterAll.
    for (const [cmd, args] of [
      ['groupadd', ['-r', OVS_GROUP]],
      ['useradd', ['-r', '-M', '-N', '-g', OVS_GROUP, '-s', '/usr/sbin/nologin', OVS_USER]],
    ] as const) {
      const r = await run(cmd, [...args]);
      if (r.code !== 0 && !r.out.includes('already exists')) throw new Error(`${cmd}: ${r.out}`);
    }
    accounts.push(OVS_USER);
    gid = Number((await run('getent', ['group', OVS_GROUP])).out.split(':')[2]);
    expect(gid).toBeGreaterThan(0);
    // The switch, restarted as that user: what remains of this file runs against it.
    expect((await run(SCRIPT, ['ovs-stop', dir], 20_000)).code).toBe(0);
    const start = await run(SCRIPT, ['ovs-start', dir, `${OVS_USER}:${OVS_GROUP}`], 60_000);
    expect(start.code, start.out).toBe(0);
    only = await starting;
  }, 120_000);

  it('OVS cannot connect to the socket QEMU binds as it is; with the setting the sidecar gives it to the group as it appears, and the device runs', { timeout: 120_000 }, async () => {
    const vm = `kvvu-group-${process.pid}`;
    const sidecars: PodSidecar[] = [];
    let starting: Promise<Result> | undefined;
    const socket = join(only.sharedDir, STABLE_NAME);
    const boundAfter = (since: number): Promise<boolean | undefined> =>
      waitFor(async () => {
        const st = await lstat(socket).catch(() => undefined);
        return st?.isSocket() === true && st.ctimeMs >= since ? true : undefined;
      }, 30_000, 20);
    try {
      const vswitchd = Number((await readFile(join(dir, 'ovs', 'ovs-vswitchd.pid'), 'utf8')).trim());
      expect(await ids(vswitchd)).toEqual({ uid: (await run('id', ['-u', OVS_USER])).out.trim(), gid: String(gid) });
      await ovs.addClientPort(cniName(only), cniHostPath(only));

      // Without the setting: QEMU (uid 107) binds its socket in the kubelet-like shared dir
      // (root:107, 2777), and the non-root OVS, in neither QEMU's user nor group, cannot connect.
      const plain = await podSidecar(only, undefined);
      sidecars.push(plain);
      const xml = await defineThrough(plain, vm);
      expect(xml).toContain(`<source type='unix' path='${STABLE_PATH}' mode='server'/>`);
      const file = join(only.dir, `${vm}.xml`);
      await writeFile(file, xml);
      const define = await virsh(only, ['define', '--validate', file]);
      expect(define.code, define.out).toBe(0);
      // `virsh start` returns once OVS connects: in the background.
      let since = Date.now() - 1;
      starting = virsh(only, ['start', vm], 90_000);
      expect(await boundAfter(since), `QEMU never bound ${socket}\n${await domainLog(only, vm)}`).toBe(true);
      // QEMU's group (107, which the setgid shared dir passes on too) may connect; others may not.
      const before = await lstat(socket);
      expect([before.uid, before.gid, before.mode & 0o002]).toEqual([QEMU_ID, QEMU_ID, 0]);
      expect((await ids((await qemuPid(only, vm)) ?? 0)).uid).toBe(String(QEMU_ID));
      const denied = await canConnectAs(OVS_USER, cniHostPath(only));
      expect(denied.out).toContain('PermissionError');
      await sleep(3_000); // DPDK's client retries every second: three tries, no connection
      expect(await ovs.logSince(0)).not.toContain(`(${cniHostPath(only)}) connected`);
      expect(await killQemu(only, vm)).toBe(true);
      expect((await starting).code).not.toBe(0);
      starting = undefined;
      await plain.stop();

      // With it, as in a pod: the sidecar (runAsGroup = the socket group) answers OnDefineDomain,
      // then QEMU starts and binds, and the sidecar gives the new socket to the group at once.
      const grouped = await podSidecar(only, gid);
      sidecars.push(grouped);
      expect(await defineThrough(grouped, vm)).toBe(xml);
      since = Date.now() - 1;
      starting = virsh(only, ['start', vm], 90_000);
      expect(await boundAfter(since), `QEMU never bound ${socket}\n${await domainLog(only, vm)}`).toBe(true);
      const bound = Date.now();
      const connected = await waitFor(async () => ((await ovs.logSince(0)).includes(`(${cniHostPath(only)}) connected`) ? Date.now() : undefined), 15_000, 20);
      expect(connected, `the non-root OVS never connected to the shared socket\n${grouped.stderr()}`).toBeDefined();
      const start = await starting;
      starting = undefined;
      expect(start.code, start.out).toBe(0);
      const after = await lstat(socket);
      expect([after.uid, after.gid, after.mode & 0o060]).toEqual([QEMU_ID, gid, 0o060]);
      expect(grouped.stderr()).toContain('"socket group: socket shared with the group"');
      expect((await canConnectAs(OVS_USER, cniHostPath(only))).code).toBe(0);
      const running = await waitFor(async () => ((await ovs.status(cniName(only))).status === 'connected' ? true : undefined), 30_000, 100);
      expect(running, 'the VM\'s vhost device never ran in the non-root OVS').toBe(true);
      record({ socket_group_bind_to_ovs_connected_ms: (connected ?? bound) - bound });
    } finally {
      for (const sc of sidecars) await sc.stop();
      await endPods(only);
      await starting;
    }
  });
});

/** A process's real uid and gid, from /proc. */
async function ids(pid: number): Promise<{ uid: string; gid: string }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { uid: status.match(/^Uid:\s+(\d+)/m)?.[1] ?? '', gid: status.match(/^Gid:\s+(\d+)/m)?.[1] ?? '' };
}
