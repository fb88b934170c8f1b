// The chart's examples/ (what NOTES.txt points operators to) say what the webhook and sidecar
// expect, and stay the same objects as the install fixtures in fixtures/install/.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir, repoRoot, template } from '../helpers/helm.js';

const example = (file: string) => parse(readFileSync(path.join(chartDir, 'examples', file), 'utf8')) as Record<string, any>;
const fixture = (file: string) => parse(readFileSync(path.join(repoRoot, 'fixtures', 'install', file), 'utf8')) as Record<string, any>;

describe('examples/network-attachment-definition.yaml', () => {
  const nad = example('network-attachment-definition.yaml');
  const config = JSON.parse(nad['spec'].config) as Record<string, any>;

  it('is a userspace-CNI OVS-DPDK network with OVS as vhost-user client and QEMU as server', () => {
    expect(nad['apiVersion']).toBe('k8s.cni.cncf.io/v1');
    expect(nad['kind']).toBe('NetworkAttachmentDefinition');
    expect(config['type']).toBe('userspace');
    expect(config['name']).toBe(nad['metadata'].name);
    expect(config['host']).toMatchObject({ engine: 'ovs-dpdk', iftype: 'vhostuser', vhost: { mode: 'client' } });
    expect(config['container']).toMatchObject({ engine: 'ovs-dpdk', iftype: 'vhostuser', vhost: { mode: 'server' } });
  });

  it('is the install fixture NAD', () => {
    const other = fixture('network-attachment-definition.yaml');
    expect({ ...nad, spec: config }).toEqual({ ...other, spec: JSON.parse(other['spec'].config) });
  });
});

describe('examples/kubevirt-cr-binding.yaml', () => {
  const cr = example('kubevirt-cr-binding.yaml');

  it('registers the binding the chart treats as vhost-user, with the chart image as sidecar', async () => {
    const binding = cr['spec'].configuration.network.binding as Record<string, { sidecarImage: string }>;
    expect(cr['kind']).toBe('KubeVirt');
    const args = ((await template()).find((o) => o.kind === 'Deployment')?.['spec'] as any).template.spec.containers[0];
    expect(args.args).toContain(`--binding-name=${Object.keys(binding)[0]}`);
    expect(binding['vhostuser']?.sidecarImage).toBe(args.image);
  });

  it('is the install fixture KubeVirt CR', () => {
    expect(cr).toEqual(fixture('kubevirt-cr.yaml'));
  });
});

describe('examples/vm.yaml', () => {
  const vm = example('vm.yaml');
  const spec = vm['spec'].template.spec;

  it('puts a vhostuser-bound interface on the example network, with hugepages', () => {
    const nad = example('network-attachment-definition.yaml');
    const iface = spec.domain.devices.interfaces.find((i: any) => i.binding?.name === 'vhostuser');
    const network = spec.networks.find((n: any) => n.name === iface.name);
    expect(network.multus.networkName).toBe(nad['metadata'].name);
    expect(spec.domain.memory.hugepages.pageSize).toBeDefined();
  });

  it('is the install fixture VM', () => {
    expect(vm).toEqual(fixture('virtual-machine.yaml'));
  });
});
