// Large inputs for the domain rewrite, shared by test/converter/rewrite-scale.test.ts and
// bench/rewrite-scale.js (on dist/): a one-line domain holding many of our vhost-user interfaces,
// and a domain whose root element carries many attributes. No imports beyond types, so Node's
// type stripping loads it from bench/.
import type { ResolvedInterface } from '../../converter/src/model.js';

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** A locally administered MAC that is unique for i < 2^24. */
export function macFor(i: number): string {
  return `02:00:00:${hex2((i >> 16) & 255)}:${hex2((i >> 8) & 255)}:${hex2(i & 255)}`;
}

/** `n` server-mode vhost-user interfaces dpdk0..dpdk<n-1>, each with its own socket and MAC. */
export function manyInterfaces(n: number): ResolvedInterface[] {
  return Array.from({ length: n }, (_, i): ResolvedInterface => ({
    vmiInterface: `dpdk${i}`,
    network: `net-${i}`,
    podInterface: `net${i + 1}`,
    socketPath: `/var/lib/cni/usrcni/8f6c1d2e9a7b-net${i + 1}`,
    mode: 'server',
    model: 'virtio-non-transitional',
    rxQueueSize: 1024,
    txQueueSize: 1024,
    mac: macFor(i),
  }));
}

/**
 * A domain on one line (no line break anywhere) whose `<devices>` holds `stale` of our
 * interfaces (aliases ua-dpdk0...) with an old socket path, so the rewrite replaces each in place.
 */
export function oneLineDomain(stale: number): string {
  let devices = '';
  for (let i = 0; i < stale; i++) {
    devices +=
      `<interface type='vhostuser'><mac address='${macFor(i)}'/><source type='unix' path='/var/run/old/sock-${i}' mode='server'/>` +
      `<model type='virtio-non-transitional'/><alias name='ua-dpdk${i}'/></interface>`;
  }
  return (
    `<domain type='kvm'><name>vm-one-line</name><memory unit='KiB'>1048576</memory><vcpu placement='static'>2</vcpu>` +
    `<os><type arch='x86_64' machine='q35'>hvm</type></os>` +
    `<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>${devices}</devices></domain>`
  );
}

/** A pretty-printed domain whose root element carries `n` extra attributes before its own. */
export function manyAttributesDomain(n: number): string {
  let attrs = '';
  for (let i = 0; i < n; i++) attrs += ` data-a${i}='value ${i}'`;
  return [
    `<domain${attrs} type='kvm'>`,
    '  <name>vm-attrs</name>',
    "  <memory unit='KiB'>1048576</memory>",
    '  <devices>',
    '    <emulator>/usr/bin/qemu-system-x86_64</emulator>',
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}
