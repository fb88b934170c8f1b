// End to end for Kube-OVN vhost-user networks, no mocks: a launcher pod (a mount namespace with its
// own libvirtd, launcher-pods.ts) with the `vhostuser-sockets` emptyDir at the path the webhook
// mounts it, the converter's domain for Kube-OVN's own NAD and the pod's annotations
// (fixtures/kube-ovn), and OVS-DPDK with the port configured the way Kube-OVN's daemon configures
// it (kubeovn/kube-ovn v1.16.2 handler_linux.go createShortSharedDir: the emptyDir bind-mounted at
// <OVS run dir>/vhost_sockets/<pod uid>/vhostuser-sockets; ovs_linux.go configureDpdkNic: port
// generateNicName on br-int, type dpdkvhostuserclient, vhost-server-path <that dir>/<pod
// interface>, external_ids). QEMU binds the stable name; OVS reaches it through the converter's
// link from Kube-OVN's name. Needs root and hugepages, as CI has; never skips.
import { randomBytes, randomUUID } from 'node:crypto';
import { lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convert, ensureSocketLinks, parseDownwardApiFile } from '../../converter/src/index.js';
import type { KubeOvnNetwork } from '../../converter/src/kube-ovn.js';
import { repoRoot } from './case-files.js';
import { stackDown, stackUp } from './e2e-stack.js';
import { addMountPoints, removeMountPoints, run, startPod, stopPod, virsh, waitFor, type Ovs, type Pod } from './launcher-pods.js';

const VOLUME = 'vhostuser-sockets';
/** Where the webhook mounts Kube-OVN's volume in the pod (contract.ts KUBE_OVN_SOCKETS_ROOT). */
const IN_POD = `/var/lib/kube-ovn/${VOLUME}`;
const POD_IFACE = 'pod6c270ef2f25';
const STABLE = 'vu-6c270ef2f25';
const NAME = `kvvu-kovn-${process.pid}`;
/** What the webhook reads from fixtures/kube-ovn/nad-kubevirt-consumption.yaml. */
const NETWORK: KubeOvnNetwork = { nad: 'default/ovn-dpdk', volume: VOLUME, provider: 'ovn-dpdk.default.ovn' };

let dir = '';
let ovs: Ovs;
let pod: Pod | undefined;
let mountPoints: string[] = [];
const hostMounts: string[] = [];

beforeAll(async () => {
  ({ dir, ovs } = await stackUp('/tmp/kvvu-ko-'));
  mountPoints = await addMountPoints();
}, 90_000);

afterAll(async () => {
  if (pod !== undefined) await stopPod(pod);
  await ovs?.vsctl(['--if-exists', 'del-br', 'br-int']);
  for (const m of hostMounts.reverse()) await run('umount', [m]);
  await removeMountPoints(mountPoints);
  const down = await stackDown(dir);
  expect(down.code, down.out).toBe(0);
}, 120_000);

/** A small TCG guest with 2 MiB hugepages; the rewrite adds the interface and shared access. */
function baseDomain(): string {
  return `<domain type='qemu'>
  <name>${NAME}</name>
  <memory unit='MiB'>128</memory>
  <memoryBacking><hugepages><page size='2048' unit='KiB'/></hugepages></memoryBacking>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <devices><memballoon model='none'/></devices>
</domain>
`;
}

/** Kube-OVN's OVS port name for a KubeVirt pod interface (ovs_linux.go generateNicName). */
function kubeOvnNicName(containerId: string, ifName: string): string {
  const part = ifName.startsWith('pod') && ifName.length === 14 ? ifName.slice(3, -4) : ifName;
  return `${containerId.slice(0, 12 - part.length)}_${part}_h`;
}

describe('Kube-OVN vhost-user end to end: NAD -> converter -> QEMU -> OVS-DPDK port as Kube-OVN makes it', () => {
  it("the VM starts and OVS-DPDK connects through Kube-OVN's path and the converter's link", { timeout: 120_000 }, async () => {
    const podUid = randomUUID();
    const containerId = randomBytes(32).toString('hex');
    // The kubelet's emptyDir of the pod, and Kube-OVN's short bind mount of it in OVS's run dir.
    const emptyDir = join(dir, 'kubelet/pods', podUid, 'volumes/kubernetes.io~empty-dir', VOLUME);
    const shortDir = join(dir, 'ovs/vhost_sockets', podUid, VOLUME);
    await mkdir(emptyDir, { recursive: true, mode: 0o777 });
    await mkdir(shortDir, { recursive: true, mode: 0o777 });
    const bind = await run('mount', ['--bind', emptyDir, shortDir]);
    expect(bind.code, bind.out).toBe(0);
    hostMounts.push(shortDir);

    // The launcher pod with the emptyDir mounted where the webhook mounts it in compute and the sidecar.
    pod = await startPod(dir, join(dir, 'hugepages'), 'kovn');
    const mount = await run('nsenter', ['-t', String(pod.pid), '-m', 'sh', '-ec', `mkdir -p ${IN_POD} && mount --bind '${emptyDir}' ${IN_POD}`]);
    expect(mount.code, mount.out).toBe(0);

    // The converter, as the sidecar runs it, on Kube-OVN's fixtures.
    const vm = parseAllDocuments(readFileSync(join(repoRoot, 'fixtures/vmi/kubeovn-kubevirt-dpdk_vm-dpdk.yaml'), 'utf8'))[0]?.toJS() as unknown;
    const annotationsFile = join(repoRoot, 'fixtures/kube-ovn/launcher-annotations');
    const { xml, interfaces } = convert({ annotations: parseDownwardApiFile(readFileSync(annotationsFile, 'utf8')), vmi: vm, domainXml: baseDomain(), config: { kubeOvn: [NETWORK] } });
    const [iface] = interfaces;
    expect(iface).toMatchObject({ socketPath: `${IN_POD}/${STABLE}`, cniSocketPath: `${IN_POD}/${POD_IFACE}`, mode: 'server', mac: '00:00:00:0A:30:89' });
    // The sidecar's link, made in the emptyDir it mounts (its host directory here).
    const link = iface?.socketLink;
    expect(link).toEqual({ path: `${IN_POD}/${POD_IFACE}`, target: STABLE });
    await ensureSocketLinks([{ ...(iface as NonNullable<typeof iface>), socketLink: { path: join(emptyDir, POD_IFACE), target: STABLE } }], { missingDir: 'required' });
    expect((await lstat(join(shortDir, POD_IFACE))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(shortDir, POD_IFACE))).toBe(STABLE);

    // Kube-OVN's port, before the VM starts (its daemon runs at CNI ADD, before virt-launcher).
    const nic = kubeOvnNicName(containerId, POD_IFACE);
    const serverPath = join(shortDir, POD_IFACE);
    expect(Buffer.byteLength(serverPath)).toBeLessThan(108);
    const br = await ovs.vsctl(['--may-exist', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev']);
    expect(br.code, br.out).toBe(0);
    const port = await ovs.vsctl([
      '--may-exist', 'add-port', 'br-int', nic, '--', 'set', 'interface', nic, 'type=dpdkvhostuserclient',
      `options:vhost-server-path=${serverPath}`, 'external_ids:iface-id=vm-dpdk.default.ovn-dpdk.default.ovn',
      'external_ids:pod_name=vm-dpdk', 'external_ids:pod_namespace=default', 'external_ids:ip=10.16.0.96', 'external_ids:pod_netns=/var/run/netns/cni-kvvu',
    ]);
    expect(port.code, port.out).toBe(0);

    const file = join(pod.dir, `${NAME}.xml`);
    await writeFile(file, xml);
    const define = await virsh(pod, ['define', '--validate', file]);
    expect(define.code, define.out).toBe(0);
    // QEMU as server waits for the backend: `start` returns once OVS has connected.
    const start = await virsh(pod, ['start', NAME], 60_000);
    expect(start.code, start.out).toBe(0);

    // QEMU's socket is the stable name, in the emptyDir, seen by OVS through the bind mount.
    expect((await stat(join(emptyDir, STABLE))).isSocket()).toBe(true);
    const ifaces = await virsh(pod, ['domiflist', NAME]);
    expect(ifaces.out).toContain(`${IN_POD}/${STABLE}`);
    const created = await waitFor(async () => ((await readFile(ovs.logFile, 'utf8')).includes(`vHost User device '${nic}' created`) ? true : undefined), 20_000, 200);
    expect(created, `OVS log has no vHost User device '${nic}' created`).toBe(true);
    const log = await readFile(ovs.logFile, 'utf8');
    expect(log).toContain(serverPath);
    expect(log.match(/VHOST_CONFIG.*read message/g)?.length ?? 0).toBeGreaterThan(5);
    await virsh(pod, ['destroy', NAME]);
    await virsh(pod, ['undefine', NAME]);
  });
});
