// The DRA source: VMI network resourceClaim -> KEP-5304 device metadata of the OVS-DPDK DRA driver
// -> socket and MTU. Real samples from fixtures/dra (SOURCES.md); each check is attacked.
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConvert } from '../../converter/src/cli.js';
import { parseConverterConfig } from '../../converter/src/config.js';
import { draClaimRef, splitJsonStream } from '../../converter/src/dra.js';
import { MAX_DRA_METADATA_BYTES, readDraMetadata } from '../../converter/src/dra-files.js';
import { ConverterError } from '../../converter/src/errors.js';
import { convert, prepareDomainForPod, type ConverterSettings } from '../../converter/src/index.js';
import { formatDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { parseVmi, type Vmi } from '../../converter/src/vmi.js';
import { validateDomainXml } from '../helpers/libvirt.js';
import { repoRoot, wrapInDomain } from './case-files.js';
import { rejectionOf } from './expect-error.js';

const draDir = join(repoRoot, 'fixtures/dra');
const fixtureRoot = join(draDir, 'metadata');
const readmeVm = parseAllDocuments(readFileSync(join(draDir, 'vmi-binding-plugin-readme.yaml'), 'utf8'))[0]?.toJS() as unknown;
const TEMPLATE_FILE = 'resourceclaimtemplates/my-dpdk-claim/vhost-port/ovsdpdk.k8snetworkplumbingwg.io-metadata.json';
const nowhere = '/nonexistent/podnetinfo';
const domainXml = wrapInDomain('');

/** The README VM as a VMI with its claim swapped for another spec.resourceClaims entry. */
function vmiWith(claims: unknown[], network: Record<string, unknown> = { claimName: 'my-dpdk-claim', requestName: 'vhost-port' }): Vmi {
  const vm = structuredClone(readmeVm) as { spec: { template: { spec: { resourceClaims: unknown[]; networks: { resourceClaim: unknown }[] } } } };
  vm.spec.template.spec.resourceClaims = claims;
  (vm.spec.template.spec.networks[0] as { resourceClaim: unknown }).resourceClaim = network;
  return parseVmi(vm);
}

async function resolveWith(root: string, vmi: unknown = readmeVm, config: ConverterSettings = {}) {
  return prepareDomainForPod({ domainXml, vmi, podinfo: nowhere, waitMs: 0, config: { ...config, dra: { metadataRoot: root, ...(config as { dra?: object }).dra } } }).catch((err: unknown) => {
    throw err;
  });
}

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** A metadata root holding `text` as the ovsdpdk file of the README VM's claim. */
async function rootWith(text: string | Buffer, file = TEMPLATE_FILE): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kvvu-dra-'));
  temps.push(root);
  await mkdir(join(root, file, '..'), { recursive: true });
  await writeFile(join(root, file), text);
  return root;
}

function metadata(attributes: Record<string, unknown>, extra: { request?: string; devices?: unknown[] } = {}): string {
  const device = { driver: 'ovsdpdk.k8snetworkplumbingwg.io', pool: 'worker-0', name: 'br-dpdk0', attributes };
  return `${JSON.stringify({ kind: 'DeviceMetadata', apiVersion: 'metadata.resource.k8s.io/v1alpha1', requests: [{ name: extra.request ?? 'vhost-port', devices: extra.devices ?? [device] }] })}\n`;
}

describe('DRA networks of the official plugin (OVS-DPDK DRA driver metadata)', () => {
  it('resolves the README VM: the socket and MTU of its template claim, QEMU the server, no link, no podinfo read', async () => {
    const { interfaces, xml, links } = await prepareDomainForPod({ domainXml, vmi: readmeVm, podinfo: nowhere, waitMs: 45_000, config: { dra: { metadataRoot: fixtureRoot } } });
    expect(links).toEqual([]);
    expect(interfaces).toHaveLength(1);
    expect(interfaces[0]).toMatchObject({
      vmiInterface: 'dpdknet',
      network: 'dpdknet',
      socketPath: '/var/run/ovsdpdk/my-dpdk-claim/vhost-port/vhost.sock',
      socketSource: join(fixtureRoot, TEMPLATE_FILE),
      mode: 'server',
      mtu: 9000,
    });
    expect(interfaces[0]?.socketLink).toBeUndefined();
    expect(xml).toContain("<source type='unix' path='/var/run/ovsdpdk/my-dpdk-claim/vhost-port/vhost.sock' mode='server'/>");
    expect(xml).toContain("<mtu size='9000'/>");
    const check = await validateDomainXml(xml);
    expect(check.rng && check.parser, check.output).toBe(true);
  });

  it('reads a ResourceClaim by its own name, and the first object of a version it knows (a newer one first is skipped)', async () => {
    const vmi = vmiWith([{ name: 'my-dpdk-claim', resourceClaimName: 'my-dpdk-port' }]);
    const { interfaces } = await resolveWith(fixtureRoot, vmi);
    expect(interfaces[0]?.socketPath).toBe('/var/run/ovsdpdk/my-dpdk-port/vhost-port/vhost.sock');
    // The driver writes mtu only when the bridge sets one: it is optional.
    expect(interfaces[0]?.mtu).toBeUndefined();
  });

  it('reads another driver only when configured, with its own socket directory (amorenoz/kubevirt test sample)', async () => {
    const sample = readFileSync(join(draDir, 'amorenoz-metadata-test.json'), 'utf8');
    const file = 'resourceclaimtemplates/test-claim/vhost-user/vhost-user.example.com-metadata.json';
    const root = await rootWith(sample, file);
    const vmi = vmiWith([{ name: 'test-claim', resourceClaimTemplateName: 't' }], { claimName: 'test-claim', requestName: 'vhost-user' });
    const absent = await rejectionOf(resolveWith(root, vmi));
    expect(absent.code).toBe('E_DRA_METADATA');
    const { interfaces } = await resolveWith(root, vmi, { dra: { drivers: ['vhost-user.example.com'], socketDirs: ['/var/run/vhost-user/'] } });
    expect(interfaces[0]?.socketPath).toBe('/var/run/vhost-user/abc12/vhost.sock');
    // The other driver's directory, not the default one.
    const outside = await rejectionOf(resolveWith(root, vmi, { dra: { drivers: ['vhost-user.example.com'] } }));
    expect(outside.code).toBe('E_SOCKET_PATH');
  });

  it('the pure convert() takes the files already read', async () => {
    const config = parseConverterConfig({ dra: { metadataRoot: fixtureRoot } });
    const dra = await readDraMetadata(parseVmi(readmeVm), config);
    const { interfaces } = convert({ annotations: {}, vmi: readmeVm, config: { dra: { metadataRoot: fixtureRoot } }, dra });
    expect(interfaces[0]?.socketPath).toBe('/var/run/ovsdpdk/my-dpdk-claim/vhost-port/vhost.sock');
  });

  it('the CLI reads them from --dra-root without a podinfo', async () => {
    const vmiFile = join(draDir, 'vmi-binding-plugin-readme.yaml');
    const out = await runConvert(['--vmi', vmiFile, '--podinfo', nowhere, '--dra-root', fixtureRoot]);
    expect(out).toContain("path='/var/run/ovsdpdk/my-dpdk-claim/vhost-port/vhost.sock' mode='server'");
  });
});

describe('DRA: absent or malformed metadata is a typed error naming claim, request and file', () => {
  it('absent: E_DRA_METADATA with the claim, the request and the file in the details', async () => {
    const root = await rootWith('', 'other');
    const err = await rejectionOf(resolveWith(root));
    expect(err.code).toBe('E_DRA_METADATA');
    expect(err.details).toMatchObject({ iface: 'dpdknet', claim: 'my-dpdk-claim', request: 'vhost-port', file: join(root, TEMPLATE_FILE) });
    expect(err.message).toContain(`DRA claim 'my-dpdk-claim' request 'vhost-port'`);
    expect(err.message).toContain(join(root, TEMPLATE_FILE));
  });

  const broken: [string, string, RegExp][] = [
    ['an empty file (a deferred driver that never filled it)', '', /is empty/],
    ['not JSON', '{"kind":', /not a JSON stream/],
    ['a bare string', '"x"', /not a JSON stream/],
    ['an object with a broken value', '{"a":tru}', /is not JSON/],
    ['no object of a known version', JSON.stringify({ kind: 'DeviceMetadata', apiVersion: 'metadata.resource.k8s.io/v9' }), /no object of apiVersion metadata.resource.k8s.io\/v1alpha1/],
    ['another kind', JSON.stringify({ kind: 'Pod', apiVersion: 'metadata.resource.k8s.io/v1alpha1' }), /is no DeviceMetadata: kind/],
    ['another request', metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/a/vhost.sock' } }, { request: 'other' }), /has no request 'vhost-port' \(it has 'other'\)/],
    ['two devices of the driver', metadata({}, { devices: [{ driver: 'ovsdpdk.k8snetworkplumbingwg.io' }, { driver: 'ovsdpdk.k8snetworkplumbingwg.io' }] }), /has 2 devices of driver/],
    ['no vhost-user-path', metadata({ mtu: { int: 1500 } }), /has no string attribute vhost-user-path/],
    ['vhost-user-path not a string', metadata({ 'vhost-user-path': { int: 42 } }), /has no string attribute vhost-user-path/],
    ['a relative vhost-user-path', metadata({ 'vhost-user-path': { string: 'vhost.sock' } }), /is not an absolute path/],
    ['a climbing vhost-user-path', metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/../openvswitch/x.sock' } }), /contains a '\.\.' segment/],
    ['mtu not an integer', metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/a/vhost.sock' }, mtu: { string: '1500' } }), /mtu is not an integer/],
    ['mtu a fraction', metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/a/vhost.sock' }, mtu: { int: 1500.5 } }), /mtu is not an integer/],
    ['mtu below 68', metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/a/vhost.sock' }, mtu: { int: 67 } }), /mtu 67 is not in \[68, 9702\]/],
    ['mtu above 9702', metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/a/vhost.sock' }, mtu: { int: 9703 } }), /mtu 9703 is not in \[68, 9702\]/],
  ];
  it.each(broken)('%s', async (_what, text, message) => {
    const root = await rootWith(text);
    const err = await rejectionOf(resolveWith(root));
    expect(err.code).toBe('E_DRA_METADATA');
    expect(err.message).toMatch(message);
    expect(err.details).toMatchObject({ claim: 'my-dpdk-claim', request: 'vhost-port', file: join(root, TEMPLATE_FILE) });
  });

  it("the Kubernetes docs' GPU metadata at the driver's file carries no device of the driver", async () => {
    const root = await rootWith(readFileSync(join(draDir, 'kubernetes-docs-gpu-metadata.json'), 'utf8'));
    const vmi = vmiWith([{ name: 'my-dpdk-claim', resourceClaimTemplateName: 't' }], { claimName: 'my-dpdk-claim', requestName: 'gpu' });
    const file = join('resourceclaimtemplates/my-dpdk-claim/gpu', 'ovsdpdk.k8snetworkplumbingwg.io-metadata.json');
    await mkdir(join(root, file, '..'), { recursive: true });
    await cp(join(draDir, 'kubernetes-docs-gpu-metadata.json'), join(root, file));
    const err = await rejectionOf(resolveWith(root, vmi));
    expect(err.message).toMatch(/has 0 devices of driver ovsdpdk\.k8snetworkplumbingwg\.io/);
  });

  it('accepts the MTU bounds 68 and 9702', async () => {
    for (const mtu of [68, 9702]) {
      const root = await rootWith(metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/a/vhost.sock' }, mtu: { int: mtu } }));
      expect((await resolveWith(root)).interfaces[0]?.mtu).toBe(mtu);
    }
  });

  it('a file that cannot be read (a directory, or larger than the bound) fails at once', async () => {
    const root = await rootWith('', 'x');
    await mkdir(join(root, TEMPLATE_FILE), { recursive: true });
    const err = await rejectionOf(resolveWith(root));
    expect(err.code).toBe('E_DRA_METADATA');
    expect(err.message).toMatch(/cannot read .*EISDIR/);
    const big = await rootWith(Buffer.alloc(MAX_DRA_METADATA_BYTES + 1, 0x20));
    expect((await rejectionOf(resolveWith(big))).message).toMatch(/more than 1048576/);
  });
});

describe('DRA: confinement and trust', () => {
  it("a socket outside the driver's own directory is refused, even in the shared dir annotations may use", async () => {
    for (const path of ['/var/run/openvswitch/vhu.sock', '/var/lib/cni/usrcni/vhost.sock', '/var/run/ovsdpdk', '/var/run/ovsdpdkx/a.sock']) {
      const root = await rootWith(metadata({ 'vhost-user-path': { string: path } }));
      const err = await rejectionOf(resolveWith(root));
      expect(err.code, path).toBe('E_SOCKET_PATH');
      expect(err.message).toContain(`from ${join(root, TEMPLATE_FILE)}`);
    }
  });

  it("an OVS control file in the driver's directory is refused", async () => {
    const root = await rootWith(metadata({ 'vhost-user-path': { string: '/var/run/ovsdpdk/db.sock' } }));
    expect((await rejectionOf(resolveWith(root))).message).toMatch(/names an OVS control file/);
  });

  it("the driver's directory is not allowed for annotation sockets", () => {
    const vmi = {
      metadata: { name: 'vm', namespace: 'default' },
      spec: { domain: { devices: { interfaces: [{ name: 'net1', binding: { name: 'vhostuser' } }] } }, networks: [{ name: 'net1', multus: { networkName: 'default/dpdk' } }] },
    };
    const status = JSON.stringify([{ name: 'default/dpdk', interface: 'net1', 'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode: 'server', path: '/var/run/ovsdpdk/vhost/vhost-port/vhost.sock' } } }]);
    try {
      convert({ annotations: { 'k8s.v1.cni.cncf.io/network-status': status }, vmi });
      expect.unreachable();
    } catch (err) {
      expect((err as ConverterError).code).toBe('E_SOCKET_PATH');
    }
  });

  it.each([
    ['a claim name that climbs', { claimName: '..', requestName: 'vhost-port' }, [{ name: '..', resourceClaimTemplateName: 't' }]],
    ['a request name with a slash', { claimName: 'my-dpdk-claim', requestName: 'a/../../b' }, [{ name: 'my-dpdk-claim', resourceClaimTemplateName: 't' }]],
    ['no request name', { claimName: 'my-dpdk-claim' }, [{ name: 'my-dpdk-claim', resourceClaimTemplateName: 't' }]],
    ['a claim not in spec.resourceClaims', { claimName: 'other', requestName: 'vhost-port' }, [{ name: 'my-dpdk-claim', resourceClaimTemplateName: 't' }]],
    ['a ResourceClaim name that climbs', { claimName: 'my-dpdk-claim', requestName: 'vhost-port' }, [{ name: 'my-dpdk-claim', resourceClaimName: '../../etc' }]],
    ['both a claim and a template', { claimName: 'my-dpdk-claim', requestName: 'vhost-port' }, [{ name: 'my-dpdk-claim', resourceClaimName: 'a', resourceClaimTemplateName: 't' }]],
  ])('E_DRA_CLAIM: %s, before any path is built', async (_what, network, claims) => {
    const vmi = vmiWith(claims, network);
    const err = await rejectionOf(resolveWith(fixtureRoot, vmi));
    expect(err.code).toBe('E_DRA_CLAIM');
    expect(err.details.iface).toBe('dpdknet');
    expect(() => draClaimRef(vmi, vmi.spec.networks?.[0] as never, 'dpdknet')).toThrow(ConverterError);
  });

  it('pod annotations play no part: a VMI owner\'s socket annotations beside a DRA network change nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvvu-dra-podinfo-'));
    temps.push(dir);
    await writeFile(join(dir, 'annotations'), formatDownwardApiFile({ 'userspace/mapped-dir': '/var/run/openvswitch' }));
    const { interfaces } = await prepareDomainForPod({ domainXml, vmi: readmeVm, podinfo: dir, waitMs: 0, config: { dra: { metadataRoot: fixtureRoot } } });
    expect(interfaces[0]?.socketPath).toBe('/var/run/ovsdpdk/my-dpdk-claim/vhost-port/vhost.sock');
  });
});

describe('splitJsonStream', () => {
  it('splits values as json.Encoder writes them, with strings holding braces and escapes', () => {
    expect(splitJsonStream('{"a":"}{\\"x"}\n{"b":[1,{"c":2}]}\n')).toEqual(['{"a":"}{\\"x"}', '{"b":[1,{"c":2}]}']);
    expect(splitJsonStream(' \n')).toEqual([]);
  });
  it.each(['{', '}', '{"a":1} x', '1', '{"a":"}'])('refuses %j', (text) => {
    expect(splitJsonStream(text)).toBeUndefined();
  });
});

describe('readDraMetadata', () => {
  let vmi: Vmi;
  beforeAll(() => {
    vmi = parseVmi(readmeVm);
  });
  it('reads nothing for a VMI without DRA networks and records absent files as absent', async () => {
    const plain = parseVmi({ spec: { domain: {}, networks: [] } });
    expect((await readDraMetadata(plain, parseConverterConfig())).size).toBe(0);
    const files = await readDraMetadata(vmi, parseConverterConfig({ dra: { metadataRoot: '/nonexistent' } }));
    expect([...files]).toEqual([[`/nonexistent/${TEMPLATE_FILE}`, undefined]]);
  });
});
