// Where QEMU may bind: the attacks a VMI owner can make through the annotations KubeVirt copies from
// the VMI onto the launcher pod, and the checks that stop them (confinement to the allowed socket
// directories, OVS control names, the VMI owner's own copies set aside, CNI data outranking
// kubevirt.io/network-info, symlinked directories).
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConverterConfig } from '../../converter/src/config.js';
import { convert, rewriteDomainForPod } from '../../converter/src/index.js';
import { resolveAvailable, resolveInterfaces } from '../../converter/src/resolve.js';
import { allowedSocketDirs, confineSocketPath } from '../../converter/src/socket-path.js';
import { parseVmi } from '../../converter/src/vmi.js';
import { errorOf, rejectionOf } from './expect-error.js';
import { wrapInDomain } from './case-files.js';
import { makeVolumeDir, publishAnnotations } from './kubelet-volume.js';

const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const CONFIG_DATA = 'userspace/configuration-data';
const MAPPED_DIR = 'userspace/mapped-dir';
const NETWORK_INFO = 'kubevirt.io/network-info';
const POD_IFACE = 'pod16477688c0e'; // KubeVirt's hashed name of network 'blue'

const vhost = (path: string, mode = 'server') => ({ type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode, path } });
const statusOf = (deviceInfo?: unknown) => JSON.stringify([{ name: 'vms/nad-blue', interface: POD_IFACE, ...(deviceInfo ? { 'device-info': deviceInfo } : {}) }]);
const networkInfoOf = (path: string, mode = 'server') => JSON.stringify({ interfaces: [{ network: 'blue', deviceInfo: vhost(path, mode) }] });
const configDataOf = (socketfile: string) =>
  JSON.stringify([{ containerId: '0123456789abcdef', ifName: POD_IFACE, config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile } } }]);

/** A VMI `vms/vm1` with one vhost-user interface `blue`; `owner` are the annotations its owner wrote. */
function vmiWith(owner: Record<string, string> = {}) {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'vm1', namespace: 'vms', annotations: owner },
    spec: { domain: { devices: { interfaces: [{ name: 'blue', binding: { name: 'vhostuser' } }] } }, networks: [{ name: 'blue', multus: { networkName: 'nad-blue' } }] },
  };
}

/** The launcher pod's annotations: what the CNIs wrote plus every VMI annotation, as KubeVirt copies them. */
function podAnnotations(vmi: ReturnType<typeof vmiWith>, cni: Record<string, string>): Map<string, string> {
  return new Map(Object.entries({ ...vmi.metadata.annotations, ...cni }));
}

// The CNI's paths as they are; the stable names have their own tests below.
const resolve = (ann: Map<string, string>, vmi: unknown, config: Record<string, unknown> = {}) =>
  resolveInterfaces(ann, parseVmi(vmi), parseConverterConfig({ stableSocketPaths: false, ...config }));

describe('confineSocketPath', () => {
  const allowed = allowedSocketDirs(parseConverterConfig({ allowedSocketDirs: ['/var/run/openvswitch', '/run/vhost/'] }));
  const origin = { iface: 'blue', annotation: STATUS };

  it('allows a path strictly inside the socket directory or an allowed directory', () => {
    expect(allowed).toEqual(['/var/lib/cni/usrcni/', '/var/run/openvswitch/', '/run/vhost/']);
    for (const path of ['/var/lib/cni/usrcni/abc-net1', '/var/lib/cni/usrcni/sub/x.sock', '/run/vhost/vhu0', '/var/run/openvswitch/vhost_sockets/vm/vhu0']) {
      expect(() => confineSocketPath(path, allowed, origin)).not.toThrow();
    }
  });

  it.each([
    ['/var/run/kubevirt-private/x', 'is outside the allowed socket directories'],
    ['/var/lib/cni/usrcnix/y', 'is outside the allowed socket directories'], // a prefix of the name is not the directory
    ['/var/lib/cni/usrcni', 'is outside the allowed socket directories'], // the directory itself is no socket
    ['/etc/passwd', 'is outside the allowed socket directories'],
    // OVS's own control files, even inside an allowed directory.
    ['/var/run/openvswitch/db.sock', 'names an OVS control file (db.sock)'],
    ['/var/run/openvswitch/ovs-vswitchd.4242.ctl', 'names an OVS control file (ovs-vswitchd.4242.ctl)'],
    ['/var/run/openvswitch/ovsdb-server.pid', 'names an OVS control file (ovsdb-server.pid)'],
    ['/var/lib/cni/usrcni/db.sock', 'names an OVS control file (db.sock)'],
  ])('refuses %s', (path, why) => {
    const err = errorOf(() => confineSocketPath(path, allowed, origin));
    expect(err.code).toBe('E_SOCKET_PATH');
    expect(err.message).toBe(`interface 'blue': socket path ${JSON.stringify(path)} from ${STATUS} ${why}${why.startsWith('is outside') ? ` ${allowed.join(', ')}` : ''}`);
  });

  it.each([['relative/dir'], ['/var/lib/../run/openvswitch'], ['/'], ['//'], ['/a,b'], ['/a\nb']])('refuses %j as an allowed directory', (dir) => {
    expect(errorOf(() => parseConverterConfig({ allowedSocketDirs: [dir] })).code).toBe('E_CONFIG');
  });
});

describe('a VMI owner aiming QEMU at the node OVSDB socket', () => {
  const ownerInfo = networkInfoOf('/var/run/openvswitch/db.sock');

  it('through kubevirt.io/network-info: set aside as the owner’s, a typed error names the key', () => {
    const vmi = vmiWith({ [NETWORK_INFO]: ownerInfo });
    const err = errorOf(() => resolve(podAnnotations(vmi, { [STATUS]: statusOf() }), vmi));
    expect(err).toEqual({
      code: 'E_ANNOTATION_UNTRUSTED',
      message: `interface 'blue': no CNI-written socket for pod interface ${POD_IFACE}; ignored ${NETWORK_INFO}: the same key and value stand in the VMI's metadata.annotations, so the VMI owner wrote it, not a CNI or KubeVirt`,
    });
  });

  it('through the same annotation on a VirtualMachine template', () => {
    const vmi = vmiWith();
    const vm = { kind: 'VirtualMachine', metadata: { name: 'vm1', namespace: 'vms' }, spec: { template: { metadata: { annotations: { [NETWORK_INFO]: ownerInfo } }, spec: vmi.spec } } };
    expect(errorOf(() => resolve(new Map([[STATUS, statusOf()], [NETWORK_INFO, ownerInfo]]), vm)).code).toBe('E_ANNOTATION_UNTRUSTED');
  });

  it('through every socket annotation at once: nothing of the owner’s is used', () => {
    const forged = {
      [STATUS]: statusOf(vhost('/var/run/openvswitch/db.sock')),
      [CONFIG_DATA]: configDataOf('/var/run/openvswitch/db.sock'),
      [MAPPED_DIR]: '/var/run/openvswitch/',
      [NETWORK_INFO]: ownerInfo,
    };
    const vmi = vmiWith(forged);
    const err = errorOf(() => resolve(podAnnotations(vmi, {}), vmi));
    expect(err.code).toBe('E_ANNOTATION_UNTRUSTED');
    expect(err.message).toContain(`ignored ${STATUS}, ${CONFIG_DATA}, ${MAPPED_DIR}, ${NETWORK_INFO}:`);
  });

  it('even when the annotation does not stand in the VMI (a hostile or broken CNI): confinement refuses it', () => {
    const err = errorOf(() => resolve(new Map([[STATUS, statusOf(vhost('/var/run/openvswitch/db.sock'))]]), vmiWith(), { allowedSocketDirs: ['/var/run/openvswitch/'] }));
    expect(err.code).toBe('E_SOCKET_PATH');
    expect(err.message).toContain('names an OVS control file (db.sock)');
  });

  it('stays pending while the owner’s copy is all there is, so the sidecar waits for the CNI', () => {
    const vmi = vmiWith({ [NETWORK_INFO]: ownerInfo });
    const outcome = resolveAvailable(podAnnotations(vmi, { [STATUS]: statusOf() }), parseVmi(vmi), parseConverterConfig({ stableSocketPaths: false }));
    expect(outcome.resolved).toEqual([]);
    expect(outcome.pending.map((p) => p.error.code)).toEqual(['E_ANNOTATION_UNTRUSTED']);
  });
});

describe('a VMI owner connecting its VM to another tenant’s socket', () => {
  it('a client-mode device-info of the owner’s is set aside', () => {
    const forged = { [STATUS]: statusOf(vhost('/var/lib/cni/usrcni/other-tenant-vhu', 'client')) };
    const vmi = vmiWith(forged);
    expect(errorOf(() => resolve(podAnnotations(vmi, {}), vmi)).code).toBe('E_ANNOTATION_UNTRUSTED');
  });

  it('the owner’s mapped-dir is ignored: the CNI’s bare socket file joins the shared dir', () => {
    const vmi = vmiWith({ [MAPPED_DIR]: '/var/run/openvswitch/' });
    const [iface] = resolve(podAnnotations(vmi, { [STATUS]: statusOf(), [CONFIG_DATA]: configDataOf(`0123456789ab-${POD_IFACE}`) }), vmi);
    expect(iface?.socketPath).toBe(`/var/lib/cni/usrcni/0123456789ab-${POD_IFACE}`);
  });

  it('an annotation the CNI wrote over the owner’s copy is the CNI’s and is used', () => {
    const vmi = vmiWith({ [CONFIG_DATA]: configDataOf('/var/run/openvswitch/db.sock') });
    const [iface] = resolve(podAnnotations(vmi, { [STATUS]: statusOf(), [CONFIG_DATA]: configDataOf(`0123456789ab-${POD_IFACE}`) }), vmi);
    expect(iface?.socketPath).toBe(`/var/lib/cni/usrcni/0123456789ab-${POD_IFACE}`);
  });
});

describe('which source wins', () => {
  const cni = { [STATUS]: statusOf(), [CONFIG_DATA]: configDataOf(`cni-${POD_IFACE}`), [NETWORK_INFO]: networkInfoOf(`/var/lib/cni/usrcni/kubevirt-${POD_IFACE}`) };

  it('the userspace CNI’s configuration-data outranks kubevirt.io/network-info by default', () => {
    expect(resolve(new Map(Object.entries(cni)), vmiWith())[0]?.socketPath).toBe(`/var/lib/cni/usrcni/cni-${POD_IFACE}`);
  });

  it('Multus device-info outranks it too', () => {
    const ann = new Map(Object.entries({ ...cni, [STATUS]: statusOf(vhost(`/var/lib/cni/usrcni/multus-${POD_IFACE}`)) }));
    expect(resolve(ann, vmiWith())[0]?.socketPath).toBe(`/var/lib/cni/usrcni/multus-${POD_IFACE}`);
  });

  it('network-info ranks first when KubeVirt writes it (downwardAPI: device-info)', () => {
    expect(resolve(new Map(Object.entries(cni)), vmiWith(), { kubevirtNetworkInfo: true })[0]?.socketPath).toBe(`/var/lib/cni/usrcni/kubevirt-${POD_IFACE}`);
  });

  it('network-info is still used when it is the only source', () => {
    const ann = new Map([[STATUS, statusOf()], [NETWORK_INFO, cni[NETWORK_INFO]]]);
    expect(resolve(ann, vmiWith())[0]?.socketPath).toBe(`/var/lib/cni/usrcni/kubevirt-${POD_IFACE}`);
  });
});

describe('symlinked socket directories, where the sidecar can see them', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function podWithSharedDir(): Promise<{ podinfo: string; shared: string }> {
    const root = await mkdtemp(join(tmpdir(), 'kvvu-shared-'));
    dirs.push(root);
    const shared = join(root, 'usrcni');
    await mkdir(shared);
    const podinfo = await makeVolumeDir();
    dirs.push(podinfo);
    return { podinfo, shared };
  }

  async function rewriteWith(podinfo: string, shared: string, socket: string): Promise<string> {
    await publishAnnotations(podinfo, { [STATUS]: statusOf(vhost(socket)) });
    return rewriteDomainForPod({ domainXml: wrapInDomain(''), vmi: vmiWith(), podinfo, waitMs: 0, config: { socketDir: shared, stableSocketPaths: false } });
  }

  it('accepts real directories, and ones that do not exist yet', async () => {
    const { podinfo, shared } = await podWithSharedDir();
    await mkdir(join(shared, 'vm1'));
    expect(await rewriteWith(podinfo, shared, join(shared, 'vm1/vhu0'))).toContain(`path='${shared}/vm1/vhu0'`);
    expect(await rewriteWith(podinfo, shared, join(shared, 'later/vhu0'))).toContain(`path='${shared}/later/vhu0'`);
  });

  it('refuses a symlink among the directories, which would carry the path out of the shared dir', async () => {
    const { podinfo, shared } = await podWithSharedDir();
    const ovs = await mkdtemp(join(tmpdir(), 'kvvu-ovs-'));
    dirs.push(ovs);
    await symlink(ovs, join(shared, 'escape'));
    const err = await rejectionOf(rewriteWith(podinfo, shared, join(shared, 'escape/db-like.sock')));
    expect(err.code).toBe('E_SOCKET_PATH');
    expect(err.message).toContain(`${join(shared, 'escape')} is a symlink`);
  });

  it('the pure convert() cannot see the file system and checks the strings only', () => {
    const ann = new Map([[STATUS, statusOf(vhost('/var/lib/cni/usrcni/escape/x'))]]);
    expect(convert({ annotations: ann, vmi: vmiWith(), config: { stableSocketPaths: false } }).interfaces[0]?.socketPath).toBe('/var/lib/cni/usrcni/escape/x');
  });
});
