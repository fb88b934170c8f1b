// Pure. Where a socket path may point: inside a directory the operator allows, and never at a file
// OVS uses for its own control. QEMU and libvirt unlink an existing file before they bind a server
// socket, so a path chosen by whoever wrote an annotation could replace the node's OVSDB socket.

import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { ConverterError } from './errors.js';
import type { LibvirtSourceMode, SocketLink } from './model.js';

/** File names OVS gives its own control sockets and pid files (ovsdb-server, ovs-vswitchd). */
export function isOvsControlName(name: string): boolean {
  return name === 'db.sock' || name.endsWith('.ctl') || name.endsWith('.pid');
}

/** A directory as a prefix: normalized, with one trailing slash. */
export function asDirPrefix(dir: string): string {
  const normalized = posix.normalize(dir);
  return normalized.endsWith('/') ? normalized : `${normalized}/`;
}

/** The allowed socket directories of a configuration: the socket directory first, then the extras. */
export function allowedSocketDirs(config: { readonly socketDir: string; readonly allowedSocketDirs: readonly string[] }): string[] {
  return [...new Set([config.socketDir, ...config.allowedSocketDirs].map(asDirPrefix))];
}

/** The allowed directory that holds `path` (strictly inside it), if any. */
export function containingDir(path: string, allowed: readonly string[]): string | undefined {
  return allowed.find((dir) => path.startsWith(dir) && path.length > dir.length);
}

export interface SocketOrigin {
  /** VMI interface name. */
  readonly iface: string;
  /** The annotation (or file) the path was read from. */
  readonly annotation: string;
}

/**
 * Throws E_SOCKET_PATH unless the normalized absolute `path` lies inside one of `allowed` and its
 * file name is not one of OVS's control files. The message names the interface, the annotation,
 * the path and the allowed directories.
 */
export function confineSocketPath(path: string, allowed: readonly string[], origin: SocketOrigin): void {
  const where = `interface '${origin.iface}': socket path ${JSON.stringify(path)} from ${origin.annotation}`;
  const name = posix.basename(path);
  if (isOvsControlName(name)) {
    throw new ConverterError('E_SOCKET_PATH', `${where} names an OVS control file (${name})`, {
      iface: origin.iface,
      annotation: origin.annotation,
      hint: 'db.sock, *.ctl and *.pid are never a vhost-user socket, whatever the allowed directories say',
    });
  }
  if (containingDir(path, allowed) === undefined) {
    throw new ConverterError('E_SOCKET_PATH', `${where} is outside the allowed socket directories ${allowed.join(', ')}`, {
      iface: origin.iface,
      annotation: origin.annotation,
      hint: 'the CNI must put the socket in the shared-dir mount; allow another directory with --allow-socket-dir',
    });
  }
}

/**
 * The stable socket file name of a VMI network: `vu-` + the first 11 hex characters of its
 * sha256, the hash KubeVirt's own pod interface names use (`pod16477688c0e` <-> `vu-16477688c0e`).
 * Derived from the network, not the pod interface, whose name KubeVirt may change from ordinal
 * to hashed during a migration; fixed length, so it fits sun_path wherever the CNI's name does.
 */
export function stableSocketName(network: string): string {
  return `vu-${createHash('sha256').update(network, 'utf8').digest('hex').slice(0, 11)}`;
}

/**
 * Where QEMU's socket goes, and the link that joins it to the CNI's name. Only a socket directly
 * in the pod's shared dir moves to the stable name (the CNI names it per pod, by container ID);
 * sockets elsewhere keep the CNI's path.
 */
export function placeSocket(cniPath: string, sharedDir: string, network: string, mode: LibvirtSourceMode): { socketPath: string; cniSocketPath?: string; socketLink?: SocketLink } {
  const dir = asDirPrefix(sharedDir);
  if (posix.dirname(cniPath) + '/' !== dir) return { socketPath: cniPath };
  const stable = stableSocketName(network);
  const socketPath = dir + stable;
  if (socketPath === cniPath) return { socketPath };
  const cniName = posix.basename(cniPath);
  const socketLink = mode === 'server' ? { path: cniPath, target: stable } : { path: socketPath, target: cniName };
  return { socketPath, cniSocketPath: cniPath, socketLink };
}
