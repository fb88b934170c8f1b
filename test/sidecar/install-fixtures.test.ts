// The manifests docs/install.md tells users to apply: they parse, they agree with each other,
// with the chart's defaults and with the copies shipped in the chart's examples/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { isVhostUserInterface } from '../../converter/src/binding.js';
import { findPackageRoot } from '../../sidecar/src/proto.js';

const root = findPackageRoot();
type Obj = Record<string, any>;

function load(rel: string): Obj {
  const docs = parseAllDocuments(readFileSync(join(root, rel), 'utf8'));
  expect(docs, `${rel} holds one document`).toHaveLength(1);
  const [doc] = docs;
  expect(doc?.errors, `${rel} parses`).toEqual([]);
  return doc?.toJS() as Obj;
}

const cr = load('fixtures/install/kubevirt-cr.yaml');
const nad = load('fixtures/install/network-attachment-definition.yaml');
const vm = load('fixtures/install/virtual-machine.yaml');
const chartValues = parse(readFileSync(join(root, 'charts/kubevirt-vhostuser/values.yaml'), 'utf8')) as Obj;
const chart = parse(readFileSync(join(root, 'charts/kubevirt-vhostuser/Chart.yaml'), 'utf8')) as Obj;

const bindings = cr['spec']?.configuration?.network?.binding as Obj;
const bindingNames = Object.keys(bindings ?? {});

describe('KubeVirt CR binding entry', () => {
  it('registers exactly the vhostuser binding with a sidecar image', () => {
    expect(cr).toMatchObject({ apiVersion: 'kubevirt.io/v1', kind: 'KubeVirt', metadata: { name: 'kubevirt', namespace: 'kubevirt' } });
    expect(bindingNames).toEqual(['vhostuser']);
    expect(Object.keys(bindings['vhostuser'])).toEqual(['sidecarImage']);
  });

  it("uses the chart's image at the chart's appVersion", () => {
    expect(bindings['vhostuser'].sidecarImage).toBe(`${chartValues['image'].repository}:${chart['appVersion']}`);
  });

  it("names a binding the webhook's default bindingNames serve", () => {
    expect(chartValues['webhook'].bindingNames).toEqual(expect.arrayContaining(bindingNames));
  });
});

describe('NetworkAttachmentDefinition', () => {
  const config = JSON.parse(nad['spec'].config as string) as Obj;

  it('is a userspace CNI vhost-user network on OVS-DPDK', () => {
    expect(nad).toMatchObject({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition' });
    expect(config).toMatchObject({
      type: 'userspace',
      name: nad['metadata'].name,
      host: { engine: 'ovs-dpdk', iftype: 'vhostuser', vhost: { mode: 'client' } },
      container: { engine: 'ovs-dpdk', iftype: 'vhostuser', vhost: { mode: 'server' } },
    });
    expect(config['host'].bridge.bridgeName).toMatch(/^\S+$/);
  });
});

describe('VirtualMachine', () => {
  const spec = vm['spec'].template.spec as Obj;
  const interfaces = spec['domain'].devices.interfaces as Obj[];
  const ours = interfaces.filter((i) => isVhostUserInterface(i, bindingNames));

  it('has one interface the binding recognizes, and the pod network besides', () => {
    expect(vm).toMatchObject({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine' });
    expect(ours.map((i) => i['name'])).toEqual(['dpdk0']);
    expect(interfaces.filter((i) => !isVhostUserInterface(i, bindingNames)).map((i) => i['name'])).toEqual(['default']);
  });

  it('puts that interface on the Multus network of the NAD', () => {
    const net = (spec['networks'] as Obj[]).find((n) => n['name'] === ours[0]?.['name']);
    expect(net).toEqual({ name: 'dpdk0', multus: { networkName: nad['metadata'].name } });
  });

  it('has hugepages (shareable guest memory) and live-migrates on node drains', () => {
    expect(spec['domain'].memory.hugepages.pageSize).toMatch(/^(2Mi|1Gi)$/);
    expect(spec['evictionStrategy']).toBe('LiveMigrate');
  });

  it('names every volume and network exactly once', () => {
    for (const list of [spec['networks'], spec['volumes'], interfaces, spec['domain'].devices.disks] as Obj[][]) {
      const names = list.map((x) => x['name']);
      expect(new Set(names).size).toBe(names.length);
    }
  });
});

describe("the chart's examples", () => {
  it.each([
    ['kubevirt-cr-binding.yaml', cr],
    ['network-attachment-definition.yaml', nad],
    ['vm.yaml', vm],
  ])('examples/%s says the same as fixtures/install', (file, ours) => {
    expect(load(`charts/kubevirt-vhostuser/examples/${file}`)).toEqual(ours);
  });
});
