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

/**
 * A symlink `path -> target` (target relative, in the same directory). QEMU as server binds the
 * stable name and the CNI's name links to it; QEMU as client connects to the stable name, which
 * links to the CNI's socket. connect(2) follows symlinks; bind(2) does not need to.
 */
export interface SocketLink {
  readonly path: string;
  readonly target: string;
}

/** Everything needed to write one `<interface type='vhostuser'>`. */
export interface ResolvedInterface {
  /** VMI interface name; the alias is `ua-<vmiInterface>`. */
  readonly vmiInterface: string;
  /** VMI network name the interface is bound to. */
  readonly network: string;
  /** Pod interface name (`net1` or `pod<hash>`). */
  readonly podInterface: string;
  /**
   * Absolute unix socket path QEMU uses, at most 107 bytes: for a socket in the pod's shared dir,
   * the stable `vu-<hash of the VMI network>` name, identical in every pod of the VMI (live
   * migration); else the CNI's own path.
   */
  readonly socketPath: string;
  /** The path the CNI gave (OVS's side), when it differs from socketPath. */
  readonly cniSocketPath?: string;
  /** The relative symlink that joins the CNI's name and the stable name (made by the sidecar). */
  readonly socketLink?: SocketLink;
  /** The annotation the socket path was read from (e.g. `userspace/configuration-data`). */
  readonly socketSource?: string;
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
