// What the caches keep of a VMI or NAD (k8s/project.ts): the fields the decision reads, bounded,
// and the decision reads the same from the projection as from the whole object.
import { describe, expect, it } from 'vitest';
import { candidateNads, vhostUserInterfaceName } from '../../webhook/src/admission/evidence.js';
import { MAX_DEVICES, MAX_NAD_CONFIG_BYTES, isPartial, projectNad, projectVmi } from '../../webhook/src/k8s/project.js';
import { loadApiObject } from './fixtures.js';

describe('projectVmi', () => {
  it('keeps what the decision reads and decides the same for every fixture VMI', () => {
    for (const name of ['vmi-vm-trex-1', 'vmi-vhostuser-vm']) {
      const vmi = loadApiObject(name);
      const projected = projectVmi(vmi);
      const ns = vmi.metadata?.namespace ?? '';
      expect(vhostUserInterfaceName(projected, ['vhostuser']), name).toBe(vhostUserInterfaceName(vmi, ['vhostuser']));
      expect(candidateNads(projected, ns, ['vhostuser']), name).toEqual(candidateNads(vmi, ns, ['vhostuser']));
      expect(projected.metadata, name).toEqual({ name: vmi.metadata?.name, namespace: ns, uid: vmi.metadata?.uid });
    }
  });

  it('keeps a binding whose name is too long to keep as a binding, never as no binding', () => {
    const vmi = { spec: { domain: { devices: { interfaces: [{ name: 'a', binding: { name: 'x'.repeat(300) }, sriov: { huge: 'y'.repeat(1000) }, state: 'absent' }] } } } };
    expect(projectVmi(vmi).spec).toEqual({ domain: { devices: { interfaces: [{ name: 'a', state: 'absent', sriov: {}, binding: {} }] } }, networks: [] });
  });

  it(`keeps at most ${MAX_DEVICES} interfaces and networks, and survives any shape`, () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ name: `n${i}`, multus: { networkName: `nad-${i}` } }));
    const p = projectVmi({ spec: { domain: { devices: { interfaces: many } }, networks: many } }) as { spec: { domain: { devices: { interfaces: unknown[] } }; networks: unknown[] } };
    expect([p.spec.domain.devices.interfaces.length, p.spec.networks.length]).toEqual([MAX_DEVICES, MAX_DEVICES]);
    for (const junk of [null, 1, 'x', [], { spec: [] }, { metadata: { name: 5 }, spec: { domain: null, networks: {} } }]) {
      expect(() => projectVmi(junk)).not.toThrow();
    }
  });

  it('is partial when the list reader left a field out', () => {
    expect(isPartial(projectVmi({}, ['spec.networks']))).toBe(true);
    expect(isPartial(projectVmi({}))).toBe(false);
  });
});

describe('projectNad', () => {
  it(`keeps a config up to ${MAX_NAD_CONFIG_BYTES} bytes; a larger one is left out and the entry partial, unless read directly`, () => {
    const small = projectNad(loadApiObject('nad-vhostuser-network'));
    expect(isPartial(small)).toBe(false);
    expect(small['spec']).toEqual(loadApiObject('nad-vhostuser-network')['spec']);
    const big = { metadata: { name: 'big' }, spec: { config: 'é'.repeat(MAX_NAD_CONFIG_BYTES / 2 + 1) } };
    expect(projectNad(big)['spec']).toEqual({});
    expect(isPartial(projectNad(big))).toBe(true);
    expect(projectNad(big, [], Infinity)['spec']).toEqual(big.spec);
  });
});
