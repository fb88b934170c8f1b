// `kubevirt-vhostuser doctor` as it runs in the sidecar container: the built command in a pod-like
// mount namespace (a tmpfs /var/lib with the shared dir in it), a downward-API directory laid out
// as the kubelet writes it (..data links), the VMI on stdin, and real unix sockets standing in for
// QEMU (listening on the stable names) and OVS (connected to them), seen through /proc/net/unix.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../cli/package.js';
import { parseProcNetUnix } from '../../cli/doctor.js';
import { stableSocketName } from '../../converter/src/index.js';

const ROOT = findPackageRoot();
const BIN = join(ROOT, 'bin/kubevirt-vhostuser.js');
const CASE = join(ROOT, 'fixtures/sidecar/cases/binding-hashed');
const SHARED = '/var/lib/cni/usrcni';
// The CNI's socket names in the fixture's network-status, and the stable names QEMU binds.
const SOCKETS = [
  { iface: 'dpdk0', cni: '5f0c1e9a7b3d-pod0234249e469', stable: stableSocketName('dpdk0') },
  { iface: 'dpdk1', cni: '5f0c1e9a7b3d-pod34040c6f57d', stable: stableSocketName('dpdk1') },
];

// QEMU's side listens on the given names; with `connect`, OVS's side connects to each. "ready"
// once all are up; it serves until killed.
const PEERS = `
const net = require('node:net');
const [names, connect] = [JSON.parse(process.argv[1]), process.argv[2] === 'connect'];
const keep = [];
let left = names.length;
for (const name of names) {
  const server = net.createServer((s) => keep.push(s)).listen(name, () => {
    if (!connect) { if (--left === 0) console.log('ready'); return; }
    const c = net.connect(name, () => { keep.push(c); if (--left === 0) console.log('ready'); });
  });
}
setInterval(() => {}, 1 << 30);
`;

let podinfo: string;
let vmiJson: string;
beforeAll(async () => {
  // As the kubelet writes a downwardAPI volume: a timestamped dir, ..data pointing at it, the file linked through ..data.
  podinfo = await mkdtemp(join(tmpdir(), 'kvh-doctor-'));
  const stamped = join(podinfo, '..2026_12_01_10_12_31.402117853');
  await mkdir(stamped);
  await writeFile(join(stamped, 'annotations'), await readFile(join(CASE, 'annotations')));
  const written = new Date(Date.now() - 90_000);
  await utimes(join(stamped, 'annotations'), written, written);
  await symlink('..2026_12_01_10_12_31.402117853', join(podinfo, '..data'));
  await symlink('..data/annotations', join(podinfo, 'annotations'));
  vmiJson = await readFile(join(CASE, 'vmi.json'), 'utf8');
});
afterAll(async () => {
  await rm(podinfo, { recursive: true, force: true });
});

interface Pod {
  /** Which names QEMU's side listens on. */
  readonly listen?: readonly string[];
  readonly connect?: boolean;
  /** Symlinks name -> target in the shared dir, as the sidecar makes them. */
  readonly links?: readonly (readonly [string, string])[];
  readonly args?: readonly string[];
  readonly stdin?: string;
}

/** Runs the doctor in a fresh pod-like mount namespace set up as `pod` says. */
function doctor(pod: Pod): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const links = (pod.links ?? []).map(([name, target]) => `ln -s '${target}' '${SHARED}/${name}'`).join(' && ');
  const at = (n: string) => (n.startsWith('/') ? n : `${SHARED}/${n}`);
  const peers = pod.listen === undefined ? '' : `"$0" -e "$PEERS" '${JSON.stringify(pod.listen.map(at))}' ${pod.connect === true ? 'connect' : 'listen'} > /var/lib/kvh-peers & P=$!; until grep -q ready /var/lib/kvh-peers 2>/dev/null; do sleep 0.05; done;`;
  const script = [
    // /run too, for the OVS-DPDK DRA driver's socket directory (/var/run/ovsdpdk).
    'mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/cni/usrcni && mount -t tmpfs tmpfs /run && mkdir -p /run/ovsdpdk/my-dpdk-claim/vhost-port',
    links === '' ? ':' : links,
    `${peers} "$0" "$@"; rc=$?; [ -n "$P" ] && kill "$P"; exit $rc`,
  ].join(' && ');
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, BIN, 'doctor', '--podinfo', podinfo, ...(pod.args ?? ['--vmi', '-'])], {
    env: { ...process.env, PEERS },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(pod.stdin ?? vmiJson);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const serverLinks = SOCKETS.map((s) => [s.cni, s.stable] as const);

describe('kubevirt-vhostuser doctor', () => {
  it('reports a healthy pod: podinfo and its age, each interface resolved, QEMU listening and OVS connected; exit 0', async () => {
    const r = await doctor({ listen: SOCKETS.map((s) => s.stable), connect: true, links: serverLinks });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('podinfo files:');
    expect(lines[1]).toMatch(new RegExp(`^  ${podinfo}/annotations  1465 bytes, written (9\\d|1[0-9]\\d) s ago$`));
    expect(r.stdout).toContain('VMI vms/vm-dpdk\n');
    expect(r.stdout).toContain(`interface dpdk0 (pod interface pod0234249e469)\n  socket ${SHARED}/${SOCKETS[0]?.stable} from k8s.v1.cni.cncf.io/network-status, QEMU as server\n`);
    expect(r.stdout).toContain(`  ${SHARED}/${SOCKETS[0]?.stable}: socket, 1 listening, 1 connected\n  ${SHARED}/${SOCKETS[0]?.cni}: symlink -> ${SOCKETS[0]?.stable}\n`);
    const checks = lines.filter((l) => /^(ok|failed|skipped) /.test(l)).map((l) => l.split(':')[0]?.replace(/ +/, ' '));
    expect(checks).toEqual(['ok podinfo', 'ok interface dpdk0', 'ok socket dpdk0', 'ok interface dpdk1', 'ok socket dpdk1']);
  });

  it('says OVS has not connected when QEMU listens alone (E_SOCKET_NO_PEER), and --json carries the same', async () => {
    const r = await doctor({ listen: SOCKETS.map((s) => s.stable), links: serverLinks, args: ['--vmi', '-', '--json'] });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: E_SOCKET_NO_PEER: check socket dpdk0 failed: QEMU listens on ${SHARED}/${SOCKETS[0]?.stable} but nothing is connected: OVS has not connected (see its dpdkvhostuserclient port)\n`);
    const report = JSON.parse(r.stdout) as { interfaces: { name: string; source: string; files: { kind: string; peers?: unknown }[] }[]; checks: { check: string; status: string; code?: string }[] };
    expect(report.interfaces.map((i) => [i.name, i.source, i.files[0]?.peers])).toEqual([
      ['dpdk0', 'k8s.v1.cni.cncf.io/network-status', { listening: 1, connected: 0 }],
      ['dpdk1', 'k8s.v1.cni.cncf.io/network-status', { listening: 1, connected: 0 }],
    ]);
    expect(report.checks.filter((c) => c.status === 'failed').map((c) => [c.check, c.code])).toEqual([
      ['socket dpdk0', 'E_SOCKET_NO_PEER'],
      ['socket dpdk1', 'E_SOCKET_NO_PEER'],
    ]);
  });

  it('names the missing socket (E_SOCKET_ABSENT) and a missing CNI link (E_SOCKET_LINK)', async () => {
    const none = await doctor({});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(new RegExp(`^error: E_SOCKET_ABSENT: check socket dpdk0 failed: ${SHARED}/${SOCKETS[0]?.stable} does not exist: QEMU has not created it`));
    expect(none.stdout).toContain(`  ${SHARED}/${SOCKETS[0]?.cni}: absent\n`);
    const unlinked = await doctor({ listen: SOCKETS.map((s) => s.stable), connect: true, links: serverLinks.slice(1) });
    expect(unlinked.code).toBe(1);
    expect(unlinked.stderr).toBe(`error: E_SOCKET_LINK: check socket dpdk0 failed: ${SHARED}/${SOCKETS[0]?.cni} is missing, not a link to ${SOCKETS[0]?.stable} (the hook sidecar makes it when it defines the domain)\n`);
    expect(unlinked.stdout).toMatch(/\nok +socket dpdk1: /);
  });

  it('without --vmi reports the podinfo files and skips the interfaces; exit 0', async () => {
    const r = await doctor({ args: [] });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/\nok +podinfo: 6 annotations in /);
    expect(r.stdout).toMatch(/\nskipped interfaces: no --vmi: pipe the VMI in/);
  });

  it("fails the podinfo check with the converter's code when the directory is not mounted", async () => {
    const r = await doctor({ args: ['--podinfo', '/var/lib/none', '--vmi', '-'] });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('podinfo files: none\n');
    expect(r.stderr).toMatch(/^error: E_PODINFO_READ: check podinfo failed: .*\/var\/lib\/none/);
  });

  it('resolves with the converter: an interface whose pod interface is not there yet is E_POD_INTERFACE_NOT_FOUND', async () => {
    // dpdk1 renamed dpdk9 on a NAD the pod is not attached to: neither the NAD nor the hashed name finds a pod interface.
    const vmi = JSON.parse(vmiJson.replaceAll('"dpdk1"', '"dpdk9"')) as { spec: { networks: { name: string; multus?: { networkName: string } }[] } };
    const net = vmi.spec.networks.find((n) => n.name === 'dpdk9');
    if (net?.multus === undefined) throw new Error('fixture changed: dpdk1 is no Multus network');
    net.multus.networkName = 'vms/elsewhere';
    const r = await doctor({ listen: [SOCKETS[0]?.stable ?? ''], connect: true, links: serverLinks.slice(0, 1), stdin: JSON.stringify(vmi) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: E_POD_INTERFACE_NOT_FOUND: check interface dpdk9 failed: interface 'dpdk9': no pod interface for network 'dpdk9' \(NAD vms\/elsewhere\)/);
    expect(r.stdout).toMatch(/\nok +socket dpdk0: /);
  });

  it('says so when the VMI has no vhost-user interface, and a Pod given as the VMI is E_VMI_INVALID', async () => {
    const plain = JSON.parse(vmiJson) as { spec: { domain: { devices: { interfaces: Record<string, unknown>[] } } } };
    plain.spec.domain.devices.interfaces = plain.spec.domain.devices.interfaces.filter((i) => i['binding'] === undefined);
    const none = await doctor({ stdin: JSON.stringify(plain) });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: E_NO_VHOSTUSER: check interfaces failed: VMI vms\/vm-dpdk has no vhost-user interface/);
    const pod = await doctor({ stdin: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'virt-launcher-x' } }) });
    expect(pod.code).toBe(1);
    expect(pod.stderr).toMatch(/^error: E_VMI_INVALID: stdin: this is a Pod; --vmi takes the VirtualMachineInstance/);
  });
});

describe('kubevirt-vhostuser doctor, DRA networks', () => {
  const dra = ['--vmi', join(ROOT, 'fixtures/dra/vmi-binding-plugin-readme.yaml'), '--dra-root', join(ROOT, 'fixtures/dra/metadata'), '--podinfo', '/var/lib/none'];
  const socket = '/var/run/ovsdpdk/my-dpdk-claim/vhost-port/vhost.sock';

  it("resolves the socket from the claim's device metadata, needs no podinfo, and sees QEMU and OVS on it", async () => {
    const r = await doctor({ listen: [socket], connect: true, args: dra });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/\nskipped podinfo: not needed: every vhost-user network of the VMI is a DRA network\n/);
    expect(r.stdout).toContain(`interface dpdknet\n  socket ${socket} from ${join(ROOT, 'fixtures/dra/metadata/resourceclaimtemplates/my-dpdk-claim/vhost-port/ovsdpdk.k8snetworkplumbingwg.io-metadata.json')}, QEMU as server\n`);
    expect(r.stdout).toMatch(new RegExp(`\\nok +socket dpdknet: QEMU listens on ${socket}, 1 connected\\n`));
  });

  it('names the claim when its metadata is not mounted', async () => {
    const r = await doctor({ args: [...dra.slice(0, 2), '--dra-root', '/var/lib/none'] });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: E_DRA_METADATA: check interface dpdknet failed: .*my-dpdk-claim/);
  });
});

describe('parseProcNetUnix', () => {
  it('counts listeners (the accept flag) and accepted connections (state 03) per path', () => {
    const text = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '0000000000000000: 00000002 00000000 00010000 0001 01 20001 /var/lib/cni/usrcni/vu-a',
      '0000000000000000: 00000003 00000000 00000000 0001 03 20002 /var/lib/cni/usrcni/vu-a',
      '0000000000000000: 00000003 00000000 00000000 0001 03 20003',
      '0000000000000000: 00000002 00000000 00010000 0001 01 20004 /run/a path with spaces',
      '0000000000000000: 00000002 00000000 00000000 0002 01 20005 @abstract',
    ].join('\n');
    const peers = parseProcNetUnix(text);
    expect(peers.get('/var/lib/cni/usrcni/vu-a')).toEqual({ listening: 1, connected: 1 });
    expect(peers.get('/run/a path with spaces')).toEqual({ listening: 1, connected: 0 });
    expect(peers.get('@abstract')).toEqual({ listening: 0, connected: 0 });
  });
});
