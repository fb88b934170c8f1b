// A VMI pciAddress that another device of the domain already uses: QEMU refuses the domain
// ("Attempted double use of PCI Address") far from the VMI that caused it, so the converter names
// both devices first.
import { describe, expect, it } from 'vitest';
import { convert } from '../../converter/src/index.js';
import { rejectionOf } from './expect-error.js';

const ANNOTATIONS = new Map([
  ['k8s.v1.cni.cncf.io/network-status', JSON.stringify([{ name: 'vms/nad-blue', interface: 'pod16477688c0e', 'device-info': { type: 'vhost-user', 'vhost-user': { mode: 'server', path: '/var/lib/cni/usrcni/abc-pod16477688c0e' } } }])],
]);
const vmi = (pciAddress: string) => ({
  kind: 'VirtualMachineInstance',
  metadata: { name: 'vm1', namespace: 'vms' },
  spec: { domain: { devices: { interfaces: [{ name: 'blue', binding: { name: 'vhostuser' }, pciAddress }] } }, networks: [{ name: 'blue', multus: { networkName: 'nad-blue' } }] },
});
const domain = (devices: string) =>
  `<domain type='kvm'><name>vms_vm1</name><memory unit='KiB'>262144</memory><memoryBacking><access mode='shared'/></memoryBacking><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>${devices}</devices></domain>`;
const DISK = "<disk type='file' device='disk'><source file='/var/run/kubevirt-private/disk.img'/><target dev='vda' bus='virtio'/><alias name='ua-rootdisk'/><address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/></disk>";

const run = (devices: string, pciAddress: string) => Promise.resolve().then(() => convert({ annotations: ANNOTATIONS, vmi: vmi(pciAddress), domainXml: domain(devices) }));

describe('PCI address conflicts', () => {
  it('names the VMI interface and the device that has the address', async () => {
    const err = await rejectionOf(run(DISK, '0000:02:01.0'));
    expect(err.code).toBe('E_PCI_CONFLICT');
    expect(err.message).toMatch(/^interface 'blue': PCI address 0000:02:01\.0 is already used by the domain's <disk type='file'> \(alias ua-rootdisk\)/);
  });

  it('reads the attributes as libvirt does: hex, decimal, and absent domain and function', async () => {
    const controller = "<controller type='pci' index='3' model='pcie-root-port'><address type='pci' bus='2' slot='0x1'/></controller>";
    expect((await rejectionOf(run(controller, '0000:02:01.0'))).message).toContain("<controller type='pci'>");
  });

  it('ignores host addresses of passed-through devices and addresses of other types', async () => {
    const hostdev = "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x02' slot='0x01' function='0x0'/></source></hostdev>";
    const drive = "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><address type='drive' controller='0' bus='2' target='0' unit='1'/></disk>";
    expect((await run(hostdev + drive, '0000:02:01.0')).xml).toContain("<address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/>");
  });

  it('accepts a free address, and its own interface on a second run', async () => {
    const first = await run(DISK, '0000:03:00.0');
    expect(convert({ annotations: ANNOTATIONS, vmi: vmi('0000:03:00.0'), domainXml: first.xml }).xml).toBe(first.xml);
  });
});
