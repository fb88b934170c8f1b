// End to end for DPDK applications in plain pods, no mocks: `kubevirt-vhostuser interfaces` reads a
// pod's annotations, and DPDK's own testpmd (Debian dpdk-dev, --no-huge), started with the
// `--vdev` it printed, attaches to OVS-DPDK's port: as the socket's server behind a
// dpdkvhostuserclient port (what the userspace CNI adds for `vhost.mode: server`), packets
// included, and as the client of a dpdkvhostuser port that OVS listens on. Needs root and
// hugepages for OVS, as CI has; scripts/e2e-vhostuser.sh starts and stops the stack.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDownwardApiFile } from '../../converter/src/index.js';
import { runInterfaces } from '../../converter/src/interfaces-cli.js';
import { stackDown, stackUp, writeFigures } from './e2e-stack.js';
import { ovsLogTime, waitFor, type Ovs } from './launcher-pods.js';

const CONTAINER_ID = '037ecb6703b0dc7b5da5029bc4c15c4ad51f0b872a5710032598ccf50dd258bf';

let dir = '';
let ovs: Ovs;
/** Each running testpmd, with its EAL file prefix (its run directory under /var/run/dpdk). */
const testpmds = new Map<ChildProcess, string>();
/** Measured figures, written to bench/results/testpmd-e2e.json. */
const figures: Record<string, number> = {};

beforeAll(async () => {
  ({ dir, ovs } = await stackUp('/tmp/kvvu-tp-'));
}, 90_000);

afterAll(async () => {
  for (const child of [...testpmds.keys()]) await stopTestpmd(child);
  const down = await stackDown(dir);
  await writeFigures('testpmd-e2e', figures);
  expect(down.code, down.out).toBe(0);
}, 120_000);

/** The pod's downward-API directory with these annotations, in kubelet's format. */
async function podinfo(name: string, annotations: Record<string, unknown>): Promise<string> {
  const podDir = join(dir, `podinfo-${name}`);
  await mkdir(podDir, { recursive: true });
  const map = new Map(Object.entries(annotations).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  await writeFile(join(podDir, 'annotations'), formatDownwardApiFile(map));
  return podDir;
}

/** The `--vdev` arguments `interfaces` prints, as a shell would split them (they need no quoting here). */
function printedVdevs(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('--vdev '))
    .map((l) => l.slice('--vdev '.length).replace(/ \\$/, ''));
}

/** dpdk-testpmd without hugepages, with one vhost-user port from `vdev`; its output goes to a log file. */
async function startTestpmd(name: string, vdev: string): Promise<{ child: ChildProcess; log: string }> {
  const log = join(dir, `testpmd-${name}.log`);
  const out = await open(log, 'w');
  const prefix = `kvvu-tp${process.pid}${name}`;
  const args = ['-l', '0-1', '--no-huge', '-m', '512', '--no-pci', '--no-shconf', `--file-prefix=${prefix}`, '--vdev', vdev];
  // An open stdin: without --stats-period testpmd forwards until it reads a line or gets SIGTERM.
  const child = spawn('dpdk-testpmd', [...args, '--', '--total-num-mbufs=8192', '--nb-cores=1', '--tx-first'], { stdio: ['pipe', out.fd, out.fd] });
  await out.close();
  testpmds.set(child, prefix);
  return { child, log };
}

/** SIGTERM by pid (testpmd closes its ports and exits), SIGKILL after 5 s; then its EAL run directory goes. */
async function stopTestpmd(child: ChildProcess): Promise<void> {
  const prefix = testpmds.get(child);
  testpmds.delete(child);
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    const pid = child.pid;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => child.exitCode === null && process.kill(pid, 'SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  if (prefix !== undefined) await rm(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
}

const isSocket = async (path: string): Promise<true | undefined> => ((await stat(path).catch(() => null))?.isSocket() === true ? true : undefined);
const connected = async (port: string): Promise<true | undefined> => ((await ovs.status(port)).status === 'connected' ? true : undefined);

describe('DPDK application in a plain pod: interfaces --vdev -> dpdk-testpmd -> OVS-DPDK', () => {
  it('pod side server (userspace CNI, vhost.mode server): testpmd creates the socket, the dpdkvhostuserclient port connects and receives its packets', { timeout: 60_000 }, async () => {
    const sockets = join(dir, 'usrcni');
    await mkdir(sockets, { recursive: true });
    // What the userspace CNI writes for an OVS-DPDK NAD (shape of app-netutil's sample), MAC from Multus.
    const pod = await podinfo('server', {
      'k8s.v1.cni.cncf.io/network-status': [
        { name: 'cbr0', interface: 'eth0', ips: ['10.244.1.77'], mac: '6a:e0:f7:68:a2:35', default: true, dns: {} },
        { name: 'tests/userspace-ovs-net-1', interface: 'net1', mac: '02:00:00:aa:00:01', dns: {} },
      ],
      'userspace/configuration-data': [
        { containerId: CONTAINER_ID, ifName: 'net1', name: 'userspace-ovs-net-1', config: { engine: 'ovs-dpdk', iftype: 'vhostuser', netType: 'interface', vhost: { mode: 'server', socketfile: `${CONTAINER_ID.slice(0, 12)}-net1` } } },
      ],
      'userspace/mapped-dir': `${sockets}/`,
    });
    const socket = join(sockets, `${CONTAINER_ID.slice(0, 12)}-net1`);
    const printed = await runInterfaces(['--podinfo', pod, '--allow-socket-dir', sockets]);
    const vdevs = printedVdevs(printed);
    expect(vdevs).toEqual([`net_virtio_user0,path=${socket},server=1,mac=02:00:00:aa:00:01`]);

    const started = Date.now();
    const { child, log } = await startTestpmd('s', vdevs[0] ?? '');
    expect(await waitFor(() => isSocket(socket), 20_000, 20), `testpmd created no socket at ${socket}:\n${await readFile(log, 'utf8').catch(() => '')}`).toBe(true);
    figures['testpmd server: start to socket (ms)'] = Date.now() - started;

    const mark = await ovs.logMark();
    const added = Date.now();
    await ovs.addClientPort('vhu-tp-net1', socket);
    expect(await waitFor(() => connected('vhu-tp-net1'), 20_000, 20), await readFile(log, 'utf8')).toBe(true);
    figures['testpmd server: add-port to connected (ms)'] = Date.now() - added;
    const ready = ovsLogTime(await ovs.logSince(mark), `vHost Device '${socket}' has been added`);
    if (ready !== undefined) figures['testpmd server: add-port to OVS vhost device added (ms, OVS log)'] = ready - added;
    expect(await ovs.status('vhu-tp-net1')).toMatchObject({ mode: 'client', status: 'connected', socket });

    // --tx-first: testpmd's first burst reaches OVS through the port.
    expect(await waitFor(async () => ((await ovs.rxPackets('vhu-tp-net1')) > 0 ? true : undefined), 15_000, 100)).toBe(true);
    figures['testpmd server: packets received by OVS'] = await ovs.rxPackets('vhu-tp-net1');
    // The MAC of the listing is the port's: testpmd prints it as it configures the port.
    expect(await readFile(log, 'utf8')).toContain('Port 0: 02:00:00:AA:00:01');
    await stopTestpmd(child);
  });

  it('pod side client (OVS listens, dpdkvhostuser): the --vdev has server=0 and testpmd connects to OVS', { timeout: 60_000 }, async () => {
    const port = 'vhu-tp-cl0';
    const r = await ovs.vsctl(['add-port', 'br0', port, '--', 'set', 'Interface', port, 'type=dpdkvhostuser']);
    expect(r.code, r.out).toBe(0);
    // OVS creates the socket in its vhost-sock-dir, here its run directory.
    const socket = join(dir, 'ovs', port);
    expect(await waitFor(() => isSocket(socket), 10_000, 20)).toBe(true);
    const pod = await podinfo('client', {
      'k8s.v1.cni.cncf.io/network-status': [{ name: 'tests/ovs-vhostuser', interface: 'net1', dns: {}, 'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode: 'client', path: socket } } }],
    });
    const listing = JSON.parse(await runInterfaces(['--podinfo', pod, '--allow-socket-dir', join(dir, 'ovs'), '--json'])) as { interfaces: { vdev: string; mode: string; kuryr: unknown }[] };
    expect(listing.interfaces.map((i) => [i.mode, i.vdev, i.kuryr])).toEqual([['client', `net_virtio_user0,path=${socket},server=0`, { vhostname: port, mode: 'client' }]]);
    const printed = printedVdevs(await runInterfaces(['--podinfo', pod, '--allow-socket-dir', join(dir, 'ovs')]));
    expect(printed).toEqual([listing.interfaces[0]?.vdev]);

    const started = Date.now();
    const { child, log } = await startTestpmd('c', printed[0] ?? '');
    expect(await waitFor(() => connected(port), 20_000, 20), await readFile(log, 'utf8').catch(() => '')).toBe(true);
    figures['testpmd client: start to connected (ms)'] = Date.now() - started;
    expect(await ovs.status(port)).toMatchObject({ mode: 'server', status: 'connected', socket });
    expect(await waitFor(async () => ((await readFile(log, 'utf8')).includes('Checking link statuses...') ? true : undefined), 10_000, 100)).toBe(true);
    expect(child.exitCode).toBeNull();
    await stopTestpmd(child);
  });
});
