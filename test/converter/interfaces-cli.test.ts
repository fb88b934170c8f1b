// `kubevirt-vhostuser interfaces` in this process: the table and the DPDK arguments, --json, the
// SR-IOV warnings, and the one `error: CODE: message` line with exit 1 (bad input) or 2 (bad
// command line), on the app-netutil and PR 218 samples (fixtures/podnetinfo).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { listPodInterfaces } from '../../converter/src/index.js';
import { interfacesCommand } from '../../converter/src/interfaces-cli.js';
import { formatDownwardApiFile, parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { readFileSync } from 'node:fs';
import { makeVolumeDir, publishAnnotations } from './kubelet-volume.js';

const samples = join(import.meta.dirname, '../../fixtures/podnetinfo');
const USERSPACE = join(samples, 'app-netutil/annotations_userspace_no_deviceinfo');
const PCI = join(samples, 'app-netutil/annotations_deviceinfo_pci');
const ALLOW = ['--allow-socket-dir', '/var/lib/cni/usrspcni'];

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await interfacesCommand.run(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const tmp = await mkdtemp(join(tmpdir(), 'kvvu-interfaces-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('kubevirt-vhostuser interfaces', () => {
  it('prints the table and one --vdev per interface, ready for a shell', async () => {
    expect(await run('--podinfo', USERSPACE, ...ALLOW)).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'POD-INTERFACE  NETWORK              MODE    MAC  SOURCE                        SOCKET',
        'net1           userspace-ovs-net-1  server  -    userspace/configuration-data  /var/lib/cni/usrspcni/037ecb6703b0-net1',
        'net2           userspace-ovs-net-2  server  -    userspace/configuration-data  /var/lib/cni/usrspcni/037ecb6703b0-net2',
        '',
        'DPDK EAL arguments:',
        '--vdev net_virtio_user0,path=/var/lib/cni/usrspcni/037ecb6703b0-net1,server=1 \\',
        '--vdev net_virtio_user1,path=/var/lib/cni/usrspcni/037ecb6703b0-net2,server=1',
        '',
      ].join('\n'),
    });
  });

  it('--json prints the library listing, unchanged', async () => {
    const result = await run('--podinfo', USERSPACE, ...ALLOW, '--json');
    expect([result.code, result.stderr]).toEqual([0, '']);
    const expected = listPodInterfaces({ annotations: parseDownwardApiFile(readFileSync(USERSPACE, 'utf8'), USERSPACE), config: { allowedSocketDirs: ['/var/lib/cni/usrspcni'] } });
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it('reads the directory kubelet writes (its annotations file)', async () => {
    const dir = join(tmp, 'podnetinfo');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'annotations'), readFileSync(join(samples, 'juniper-pr218/annotations')));
    const result = await run('--podinfo', dir, '--json');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { interfaces: { vdev: string }[] }).interfaces.map((i) => i.vdev)).toEqual([
      'net_virtio_user0,path=/var/lib/cni/usrcni/2ea1931c-2935-net1,server=1,mac=02:c6:da:d3:ab:07',
    ]);
  });

  it('SR-IOV devices: no interface, a warning each with the reason', async () => {
    const result = await run('--podinfo', PCI);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('no vhost-user interfaces\n');
    expect(result.stderr.split('\n').filter((l) => l !== '')).toEqual([
      'warning: pod interface net1: a PCI device (SR-IOV VF 0000:01:02.5, device-info type pci), not a vhost-user socket; a DPDK application binds it with its PCI driver (-a 0000:01:02.5), not with --vdev',
      'warning: pod interface net2: a PCI device (SR-IOV VF 0000:01:0a.4, device-info type pci), not a vhost-user socket; a DPDK application binds it with its PCI driver (-a 0000:01:0a.4), not with --vdev',
    ]);
  });

  it('--vmi: socket annotations the VMI owner wrote are set aside, with a warning', async () => {
    const text = readFileSync(USERSPACE, 'utf8');
    const ann = parseDownwardApiFile(text, USERSPACE);
    const vmi = join(tmp, 'vmi.json');
    await writeFile(vmi, JSON.stringify({ kind: 'VirtualMachineInstance', metadata: { annotations: { 'userspace/configuration-data': ann.get('userspace/configuration-data') } }, spec: { domain: {} } }));
    const result = await run('--podinfo', USERSPACE, ...ALLOW, '--vmi', vmi);
    expect([result.code, result.stdout]).toEqual([0, 'no vhost-user interfaces\n']);
    expect(result.stderr).toMatch(/^warning: interface 'net1': no CNI-written socket for pod interface net1; ignored userspace\/configuration-data: /);
  });

  it('bad input: one error line naming the code, exit 1, nothing on stdout', async () => {
    const outside = await run('--podinfo', USERSPACE);
    expect([outside.code, outside.stdout]).toEqual([1, '']);
    expect(outside.stderr).toMatch(/^error: E_SOCKET_PATH: interface 'net1': socket path "\/var\/lib\/cni\/usrspcni\/037ecb6703b0-net1" from userspace\/configuration-data joined to userspace\/mapped-dir is outside the allowed socket directories \/var\/lib\/cni\/usrcni\/ \(hint: [^\n]*\)\n$/);
    const missing = await run('--podinfo', join(tmp, 'nothing-here'));
    expect([missing.code, missing.stdout]).toEqual([1, '']);
    expect(missing.stderr).toMatch(/^error: E_PODINFO_READ: cannot read [^\n]*nothing-here: no such file or directory/);
    const file = join(tmp, 'hostile');
    await writeFile(file, formatDownwardApiFile(new Map([['k8s.v1.cni.cncf.io/network-status', JSON.stringify([{ name: 'x', interface: 'net1', 'device-info': { type: 'vhost-user', 'vhost-user': { mode: 'server', path: '/var/lib/cni/usrcni/a,server=0' } } }])]])));
    const hostile = await run('--podinfo', file);
    expect([hostile.code, hostile.stdout]).toEqual([1, '']);
    expect(hostile.stderr).toMatch(/^error: E_SOCKET_PATH: interface 'net1': socket path "\/var\/lib\/cni\/usrcni\/a,server=0" contains one of , = \[ \]/);
  });

  it('--wait: lists once Multus has reported every requested attachment, which reaches the file on a later kubelet sync', async () => {
    const dir = await makeVolumeDir();
    try {
      const final = readFileSync(join(samples, 'juniper-pr218/annotations'), 'utf8');
      const before = parseDownwardApiFile(final, 'annotations');
      before.delete('k8s.v1.cni.cncf.io/network-status');
      await publishAnnotations(dir, Object.fromEntries(before));
      // Read once, the pod has nothing to list yet.
      expect((await run('--podinfo', dir, '--wait', '0')).stdout).toBe('no vhost-user interfaces\n');
      const timedOut = await run('--podinfo', dir, '--wait', '0.2');
      expect([timedOut.code, timedOut.stdout]).toEqual([1, '']);
      expect(timedOut.stderr).toMatch(/^error: E_TIMEOUT: [^\n]*annotations: still missing after 0.2s: attachment kubevirttest\/vn-blue@net1 is not in network-status yet/);
      setTimeout(() => void publishAnnotations(dir, final), 100);
      const waited = await run('--podinfo', dir, '--wait', '10');
      expect([waited.code, waited.stderr]).toEqual([0, '']);
      expect(waited.stdout).toContain('--vdev net_virtio_user0,path=/var/lib/cni/usrcni/2ea1931c-2935-net1,server=1,mac=02:c6:da:d3:ab:07');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bad command line: E_USAGE, exit 2; --help lists the options', async () => {
    const bad = await run('--allow-socket-dir', '/');
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([2, '', 'error: E_USAGE: --allow-socket-dir "/" is the root directory, which would allow any socket path\n']);
    expect((await run('--frobnicate')).code).toBe(2);
    expect(await run('--wait', 'soon')).toEqual({ code: 2, stdout: '', stderr: 'error: E_USAGE: --wait "soon": expected a number of seconds >= 0\n' });
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kubevirt-vhostuser interfaces /);
    for (const flag of ['--podinfo <path>', '--json', '--socket-dir <dir>', '--allow-socket-dir <dir>', '--wait <seconds>', '--vmi <file>']) expect(help.stdout).toContain(flag);
  });
});
