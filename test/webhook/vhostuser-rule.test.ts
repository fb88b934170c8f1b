// One rule for "this VMI interface is vhost-user": the webhook (which grants the OVS hostPath on it)
// and the converter (which writes the interface) must agree on every VMI, or a VM gets the node's
// switch socket without a vhost-user interface, or a vhost-user interface without its volumes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vhostUserInterfaces } from '../../converter/src/resolve.js';
import { parseVmi } from '../../converter/src/vmi.js';
import { vhostUserInterfaceName } from '../../webhook/src/admission/evidence.js';
import type { KubeObject } from '../../webhook/src/k8s/sources.js';

const binding = fc.oneof(
  fc.constant({ vhostuser: {} }),
  fc.constantFrom('vhostuser', 'dpdk', 'passt', 'sriov', '').map((name) => ({ binding: { name } })),
  fc.constantFrom({ masquerade: {} }, { bridge: {} }, { sriov: {} }, {}),
);
const iface = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'dpdk0'),
  binding,
  state: fc.option(fc.constantFrom('absent', 'down', 'up', ''), { nil: undefined }),
});

describe('webhook and converter agree on which VMI interfaces are vhost-user', () => {
  it('for 500 arbitrary interface lists and binding names', () => {
    fc.assert(
      fc.property(fc.array(iface, { maxLength: 5 }), fc.subarray(['vhostuser', 'dpdk'], { minLength: 1 }), (ifaces, names) => {
        const interfaces = ifaces.map((i) => ({ name: i.name, ...i.binding, ...(i.state === undefined ? {} : { state: i.state }) }));
        const vmi = { kind: 'VirtualMachineInstance', metadata: { name: 'vm', namespace: 'ns' }, spec: { domain: { devices: { interfaces } } } };
        const webhook = vhostUserInterfaceName(vmi as KubeObject, names);
        const converter = vhostUserInterfaces(parseVmi(vmi), names).map((i) => i.name);
        expect(webhook).toBe(converter[0]);
      }),
      { numRuns: 500 },
    );
  });

  it('a hot-unplugged vhost-user interface (state: absent) is no reason for the hostPath', () => {
    const vmi = { spec: { domain: { devices: { interfaces: [{ name: 'dpdk0', binding: { name: 'vhostuser' }, state: 'absent' }] } } } };
    expect(vhostUserInterfaceName(vmi as KubeObject, ['vhostuser'])).toBeUndefined();
    expect(vhostUserInterfaces(parseVmi(vmi), ['vhostuser'])).toEqual([]);
  });
});
