// The stable socket name per VMI network and the link that joins it to the CNI's per-pod name, so
// that the path in the domain (which KubeVirt sends unchanged to the migration target) holds in
// every pod of the VMI. Links are made on a real file system, as the sidecar makes them.
import { createServer, type Server } from 'node:net';
import { lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConverterConfig } from '../../converter/src/config.js';
import { convert, prepareDomainForPod } from '../../converter/src/index.js';
import { resolveInterfaces } from '../../converter/src/resolve.js';
import { ensureSocketLinks } from '../../converter/src/socket-files.js';
import { placeSocket, stableSocketName } from '../../converter/src/socket-path.js';
import { hashedPodInterfaceName, parseVmi } from '../../converter/src/vmi.js';
import { wrapInDomain } from './case-files.js';
import { rejectionOf } from './expect-error.js';
import { makeVolumeDir, publishAnnotations } from './kubelet-volume.js';

const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const CONFIG_DATA = 'userspace/configuration-data';

const vmi = (network = 'blue', nad = 'nad-blue') => ({
  kind: 'VirtualMachineInstance',
  metadata: { name: 'vm1', namespace: 'vms' },
  spec: { domain: { devices: { interfaces: [{ name: network, binding: { name: 'vhostuser' } }] } }, networks: [{ name: network, multus: { networkName: nad } }] },
});

/** What the userspace CNI writes for a pod whose container ID starts with `cid` and whose interface is `podIface`. */
function cniAnnotations(cid: string, podIface: string, mode = 'server', mappedDir?: string): Map<string, string> {
  return new Map([
    [STATUS, JSON.stringify([{ name: 'vms/nad-blue', interface: podIface }])],
    [CONFIG_DATA, JSON.stringify([{ containerId: `${cid}0000`, ifName: podIface, config: { iftype: 'vhostuser', vhost: { mode, socketfile: `${cid}-${podIface}` } } }])],
    ...(mappedDir === undefined ? [] : [['userspace/mapped-dir', mappedDir] as [string, string]]),
  ]);
}

describe('the stable socket name', () => {
  it('is vu- and the hash KubeVirt names the pod interface with, whatever the pod interface is', () => {
    expect(stableSocketName('blue')).toBe('vu-16477688c0e');
    expect(hashedPodInterfaceName('blue')).toBe('pod16477688c0e');
    // The source pod kept the ordinal name (created before an upgrade), the target got the hashed one.
    const source = resolveInterfaces(cniAnnotations('0123456789ab', 'net1'), parseVmi(vmi()), parseConverterConfig())[0];
    const target = resolveInterfaces(cniAnnotations('fedcba987654', 'pod16477688c0e'), parseVmi(vmi()), parseConverterConfig())[0];
    expect(source?.socketPath).toBe('/var/lib/cni/usrcni/vu-16477688c0e');
    expect(target?.socketPath).toBe(source?.socketPath);
    expect([source?.cniSocketPath, target?.cniSocketPath]).toEqual(['/var/lib/cni/usrcni/0123456789ab-net1', '/var/lib/cni/usrcni/fedcba987654-pod16477688c0e']);
  });

  it('links the CNI name to the stable one when QEMU is the server, and the other way when it is the client', () => {
    expect(placeSocket('/var/lib/cni/usrcni/abc-net1', '/var/lib/cni/usrcni', 'blue', 'server')).toEqual({
      socketPath: '/var/lib/cni/usrcni/vu-16477688c0e',
      cniSocketPath: '/var/lib/cni/usrcni/abc-net1',
      socketLink: { path: '/var/lib/cni/usrcni/abc-net1', target: 'vu-16477688c0e' },
    });
    expect(placeSocket('/var/lib/cni/usrcni/abc-net1', '/var/lib/cni/usrcni/', 'blue', 'client').socketLink).toEqual({ path: '/var/lib/cni/usrcni/vu-16477688c0e', target: 'abc-net1' });
  });

  it('applies only to sockets directly in the shared dir (mapped-dir, else the socket dir)', () => {
    expect(placeSocket('/var/lib/cni/usrcni/sub/abc-net1', '/var/lib/cni/usrcni/', 'blue', 'server')).toEqual({ socketPath: '/var/lib/cni/usrcni/sub/abc-net1' });
    expect(placeSocket('/run/vhost/abc-net1', '/var/lib/cni/usrcni/', 'blue', 'server')).toEqual({ socketPath: '/run/vhost/abc-net1' });
    const [inMapped] = resolveInterfaces(cniAnnotations('0123456789ab', 'net1', 'server', '/run/usrspcni/'), parseVmi(vmi()), parseConverterConfig({ allowedSocketDirs: ['/run/usrspcni'] }));
    expect(inMapped?.socketPath).toBe('/run/usrspcni/vu-16477688c0e');
  });

  it('is off with stableSocketPaths: false, and a second rewrite of the output changes nothing', () => {
    const off = resolveInterfaces(cniAnnotations('0123456789ab', 'net1'), parseVmi(vmi()), parseConverterConfig({ stableSocketPaths: false }))[0];
    expect(off).toMatchObject({ socketPath: '/var/lib/cni/usrcni/0123456789ab-net1' });
    expect(off).not.toHaveProperty('socketLink');
    const first = convert({ annotations: cniAnnotations('0123456789ab', 'net1'), vmi: vmi(), domainXml: wrapInDomain('') }).xml;
    expect(first).toContain("<source type='unix' path='/var/lib/cni/usrcni/vu-16477688c0e' mode='server'/>");
    expect(convert({ annotations: cniAnnotations('0123456789ab', 'net1'), vmi: vmi(), domainXml: first }).xml).toBe(first);
  });
});

describe('the socket links, on a real directory', () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) s.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  async function shared(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kvvu-links-'));
    dirs.push(dir);
    return dir;
  }
  const resolved = (dir: string, mode = 'server', cid = '0123456789ab') =>
    resolveInterfaces(cniAnnotations(cid, 'net1', mode), parseVmi(vmi()), parseConverterConfig({ socketDir: dir }));

  it('makes the relative link, keeps it on the next call, and retargets a stale one', async () => {
    const dir = await shared();
    const ifaces = resolved(dir);
    expect((await ensureSocketLinks(ifaces, { missingDir: 'required' })).map((o) => o.action)).toEqual(['created']);
    expect(await readlink(join(dir, '0123456789ab-net1'))).toBe('vu-16477688c0e');
    expect((await ensureSocketLinks(ifaces, { missingDir: 'required' })).map((o) => o.action)).toEqual(['kept']);
    await rm(join(dir, '0123456789ab-net1'));
    await symlink('elsewhere', join(dir, '0123456789ab-net1'));
    expect((await ensureSocketLinks(ifaces, { missingDir: 'required' })).map((o) => o.action)).toEqual(['replaced']);
    expect(await readlink(join(dir, '0123456789ab-net1'))).toBe('vu-16477688c0e');
  });

  it('lets a client connect through the CNI name to the socket QEMU binds at the stable name', async () => {
    const dir = await shared();
    await ensureSocketLinks(resolved(dir), { missingDir: 'required' });
    const server = createServer((c) => c.end('vhost-user\n'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(join(dir, 'vu-16477688c0e'), resolve));
    const { connect } = await import('node:net');
    const got = await new Promise<string>((resolve, reject) => {
      const c = connect(join(dir, '0123456789ab-net1'));
      let data = '';
      c.on('data', (d) => (data += String(d))).on('end', () => resolve(data)).on('error', reject);
    });
    expect(got).toBe('vhost-user\n');
  });

  it('in client mode links the stable name to the CNI socket', async () => {
    const dir = await shared();
    await ensureSocketLinks(resolved(dir, 'client'), { missingDir: 'required' });
    expect(await readlink(join(dir, 'vu-16477688c0e'))).toBe('0123456789ab-net1');
  });

  it('never replaces a file that is not a symlink: QEMU’s socket of a VM started under the earlier naming', async () => {
    const dir = await shared();
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(join(dir, '0123456789ab-net1'), resolve));
    const err = await rejectionOf(ensureSocketLinks(resolved(dir), { missingDir: 'required' }));
    expect(err.code).toBe('E_SOCKET_LINK');
    expect(err.message).toContain("a socket QEMU bound under the earlier naming (the CNI's name) is there");
    expect(err.message).toContain(`restart the VM once: it then binds ${dir}/vu-16477688c0e`);
    expect((await lstat(join(dir, '0123456789ab-net1'))).isSocket()).toBe(true);
    await writeFile(join(dir, 'vu-16477688c0e'), 'x');
    const file = await rejectionOf(ensureSocketLinks(resolved(dir, 'client'), { missingDir: 'required' }));
    expect(file.message).toContain('a file that is not a symlink is there; refusing to replace it');
  });

  it('fails in the sidecar when the shared dir is not mounted, and skips for the CLI', async () => {
    const dir = join(await shared(), 'not-mounted');
    const err = await rejectionOf(ensureSocketLinks(resolved(dir), { missingDir: 'required' }));
    expect(err.code).toBe('E_SOCKET_LINK');
    expect(err.message).toContain(`the directory ${dir} is not mounted in this container`);
    expect((await ensureSocketLinks(resolved(dir), { missingDir: 'where-visible' })).map((o) => o.action)).toEqual(['skipped']);
  });

  it('is made by prepareDomainForPod before the domain is returned, in source and target pods alike', async () => {
    for (const cid of ['0123456789ab', 'fedcba987654']) {
      const dir = await shared();
      await mkdir(join(dir, 'podinfo'));
      const podinfo = await makeVolumeDir();
      dirs.push(podinfo);
      await publishAnnotations(podinfo, Object.fromEntries(cniAnnotations(cid, 'net1')));
      const result = await prepareDomainForPod({ domainXml: wrapInDomain(''), vmi: vmi(), podinfo, waitMs: 0, config: { socketDir: dir } });
      expect(result.xml).toContain(`path='${dir}/vu-16477688c0e'`);
      expect(result.links.map((l) => [l.link.path, l.action])).toEqual([[`${dir}/${cid}-net1`, 'created']]);
      expect(await readlink(join(dir, `${cid}-net1`))).toBe('vu-16477688c0e');
    }
  });
});
