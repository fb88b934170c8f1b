// Pure. The typed model between resolution (annotations + VMI -> facts about each vhost-user
// interface) and emission (facts -> libvirt XML). Optional facts are absent keys, never undefined.

export type LibvirtSourceMode = 'server' | 'client';
export type VirtioModel = 'virtio' | 'virtio-transitional' | 'virtio-non-transitional';

/** PCI address as libvirt writes it: hex strings with 0x prefix. */
export interface PciAddress {
  readonly domain: string;
  readonly bus: string;
  readonly slot: string;
  readonly function: string;
}

/** Everything needed to write one `<interface type='vhostuser'>`. */
export interface ResolvedInterface {
  /** VMI interface name; the alias is `ua-<vmiInterface>`. */
  readonly vmiInterface: string;
  /** VMI network name the interface is bound to. */
  readonly network: string;
  /** Pod interface name (`net1` or `pod<hash>`). */
  readonly podInterface: string;
  /** Absolute unix socket path, at most 107 bytes. */
  readonly socketPath: string;
  /** libvirt `<source mode>`: server means QEMU creates the socket. */
  readonly mode: LibvirtSourceMode;
  readonly model: VirtioModel;
  readonly rxQueueSize: number;
  readonly txQueueSize: number;
  readonly mac?: string;
  readonly mtu?: number;
  /** `<driver queues>`; only with networkInterfaceMultiqueue. */
  readonly queues?: number;
  readonly pciAddress?: PciAddress;
  readonly acpiIndex?: number;
  readonly bootOrder?: number;
}
