// Pure. Which VMI interfaces are vhost-user ones, in both KubeVirt API dialects. Shared by the
// converter, the hook sidecar and the webhook so that all three agree.

import { DEFAULT_BINDING_NAMES } from './contract.js';

export { DEFAULT_BINDING_NAMES };

/**
 * True when a VMI `spec.domain.devices.interfaces[]` entry asks for vhost-user:
 * `vhostuser: {}` (patched KubeVirt) or `binding: {name}` with a configured binding plugin name
 * (stock KubeVirt >= 1.1), and is not hot-unplugged (`state: absent`: KubeVirt keeps the entry
 * until the unplug completes, but the domain gets no device for it). The one rule the webhook,
 * the converter and the sidecar share.
 *
 * @example isVhostUserInterface({ name: 'dpdk0', binding: { name: 'vhostuser' } }, ['vhostuser']) // true
 */
export function isVhostUserInterface(iface: unknown, bindingNames: readonly string[] = DEFAULT_BINDING_NAMES): boolean {
  if (typeof iface !== 'object' || iface === null) return false;
  const rec = iface as Record<string, unknown>;
  if (rec['state'] === 'absent') return false;
  const vhostuser = rec['vhostuser'];
  if (typeof vhostuser === 'object' && vhostuser !== null && !Array.isArray(vhostuser)) return true;
  const binding = rec['binding'];
  if (typeof binding !== 'object' || binding === null) return false;
  const name = (binding as Record<string, unknown>)['name'];
  return typeof name === 'string' && bindingNames.includes(name);
}
