import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConverterError } from '../../converter/src/errors.js';
import {
  countVcpus,
  cpuQuantityValue,
  hashedPodInterfaceName,
  parsePciAddress,
  parseVmi,
  podInterfaceNameCandidates,
  virtioModelOf,
  type Vmi,
} from '../../converter/src/vmi.js';

const fixtures = join(import.meta.dirname, '../../fixtures');

function loadVmiDocs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(join(fixtures, 'vmi', file), 'utf8')).map((d) => d.toJS() as unknown);
}

function vmiWith(domain: Record<string, unknown>, extra: Record<string, unknown> = {}): Vmi {
  return parseVmi({ spec: { domain, networks: [], ...extra } });
}

describe('parseVmi', () => {
  it('reads every KubeVirt VMI and VM sample, unwrapping the VM template', () => {
    const backend = parseVmi(loadVmiDocs('backendcloud-blog_vm-trex-1_vhostuser-binding-method.yaml')[0]);
    expect(backend.spec.domain.devices?.interfaces?.map((i) => i.name)).toEqual(['default', 'vhost-user-net-1']);
    const kubeovn = parseVmi(loadVmiDocs('kubeovn-kubevirt-dpdk_vm-dpdk.yaml')[0]);
    expect(kubeovn.metadata).toMatchObject({ name: 'vm-dpdk', namespace: 'default' });
    expect(kubeovn.spec.domain.devices?.networkInterfaceMultiqueue).toBe(true);
    const vep = parseVmi(loadVmiDocs('kubevirt-vep307_orange_vhostuser-binding-plugin_vm.yaml')[0]);
    expect(vep.spec.domain.devices?.interfaces?.[1]?.binding?.name).toBe('vhostuser');
    expect(parseVmi(loadVmiDocs('krsacme-ovs-dpdk-doc_vm-trex-1_full.yaml')[0]).spec.domain.cpu).toEqual({ sockets: 1, cores: 8, threads: 2, dedicatedCpuPlacement: true });
  });

  it('rejects a non-KubeVirt VM (virtink) and names the missing field', () => {
    const err = (() => {
      try {
        parseVmi(loadVmiDocs('virtink_ubuntu-vhostuser_userspace-cni.yaml')[0]);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConverterError);
    expect((err as ConverterError).code).toBe('E_VMI_INVALID');
    expect((err as ConverterError).message).toMatchInlineSnapshot(`"VMI spec.domain: Invalid input: expected object, received undefined (hint: pass a kubevirt.io/v1 VirtualMachineInstance as JSON or YAML)"`);
  });

  it.each([null, 'text', 42, { spec: {} }, { spec: { domain: { devices: { interfaces: [{ name: '' }] } } } }])('rejects %j with E_VMI_INVALID', (input) => {
    expect(() => parseVmi(input)).toThrow(expect.objectContaining({ code: 'E_VMI_INVALID' }));
  });
});

describe('countVcpus', () => {
  it.each([
    [{ cpu: { cores: 8, sockets: 1, threads: 2 } }, 16],
    [{ cpu: { cores: 4 } }, 4],
    [{ cpu: { sockets: 2 } }, 2],
    [{}, 1],
    [{ resources: { limits: { cpu: '3' } } }, 3],
    [{ resources: { requests: { cpu: '500m' } } }, 1],
    [{ resources: { requests: { cpu: '2500m' }, limits: { cpu: 4 } } }, 4],
    [{ cpu: { cores: 2 }, resources: { limits: { cpu: '16' } } }, 2],
  ])('%j has %i vCPUs', (domain, expected) => {
    expect(countVcpus(vmiWith(domain))).toBe(expected);
  });

  it.each([
    ['1', 1],
    ['0.5', 1],
    ['1.1', 2],
    ['100m', 1],
    ['2000m', 2],
    ['1k', 1000],
  ])('cpu quantity %s rounds up to %i', (q, n) => {
    expect(cpuQuantityValue(q)).toBe(n);
  });

  it('rejects a quantity that is not one', () => {
    expect(() => cpuQuantityValue('two')).toThrow(/not a CPU quantity/);
  });
});

describe('virtioModelOf', () => {
  const iface = (model?: string) => ({ name: 'dpdk0', ...(model !== undefined ? { model } : {}) });
  it.each([
    [{}, undefined, 'virtio-non-transitional'],
    [{ devices: { useVirtioTransitional: true } }, 'virtio', 'virtio-transitional'],
    [{ devices: { useVirtioTransitional: false } }, 'virtio', 'virtio-non-transitional'],
    [{}, 'virtio-transitional', 'virtio-transitional'],
  ])('domain %j, model %s -> %s', (domain, model, expected) => {
    expect(virtioModelOf(vmiWith(domain), iface(model))).toBe(expected);
  });

  it('keeps plain virtio on s390x, where the other two are PCI-only', () => {
    expect(virtioModelOf(vmiWith({ devices: { useVirtioTransitional: true } }, { architecture: 's390x' }), iface())).toBe('virtio');
  });

  it('refuses a non-virtio model for vhost-user', () => {
    expect(() => virtioModelOf(vmiWith({}), iface('e1000'))).toThrow("interface 'dpdk0': model 'e1000' cannot carry vhost-user");
  });
});

describe('parsePciAddress', () => {
  it('turns dddd:bb:ss.f into libvirt attributes', () => {
    expect(parsePciAddress('0000:81:01.0', 'dpdk0')).toEqual({ domain: '0x0000', bus: '0x81', slot: '0x01', function: '0x0' });
    expect(parsePciAddress('0000:0A:1F.7', 'dpdk0')).toEqual({ domain: '0x0000', bus: '0x0a', slot: '0x1f', function: '0x7' });
  });

  it.each(['81:01.0', '0000:81:01.8', '0000:81:01', 'x'])('rejects %s', (text) => {
    expect(() => parsePciAddress(text, 'dpdk0')).toThrow(expect.objectContaining({ code: 'E_VMI_INVALID', details: expect.objectContaining({ iface: 'dpdk0' }) }));
  });
});

describe('pod interface names', () => {
  it('hashes every network name of the computed KubeVirt table the same way', () => {
    const rows = readFileSync(join(fixtures, 'podnetinfo/decoded/hashed-pod-iface-names.computed.tsv'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('vmiNetworkName'))
      .map((l) => l.split('\t'));
    expect(rows.length).toBe(11);
    for (const [name = '', expected] of rows) expect(hashedPodInterfaceName(name.replace(/\*$/, ''))).toBe(expected);
  });

  it('counts ordinal names over secondary Multus networks only, in spec order', () => {
    const vmi = parseVmi({
      spec: {
        domain: {},
        networks: [
          { name: 'a', multus: { networkName: 'nad-a' } },
          { name: 'default', pod: {} },
          { name: 'b', multus: { networkName: 'nad-b' } },
          { name: 'prim', multus: { networkName: 'nad-p', default: true } },
          { name: 'blue', multus: { networkName: 'nad-c' } },
        ],
      },
    });
    expect(podInterfaceNameCandidates(vmi, 'blue')).toEqual({ ordinal: 'net3', hashed: 'pod16477688c0e' });
    expect(podInterfaceNameCandidates(vmi, 'a').ordinal).toBe('net1');
    expect(podInterfaceNameCandidates(vmi, 'prim')).toEqual({ ordinal: 'eth0', hashed: 'eth0' });
    expect(podInterfaceNameCandidates(vmi, 'default')).toEqual({});
  });
});
