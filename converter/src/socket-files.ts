// I/O edge. Where the socket directories are visible (the hook sidecar, `convert` on a node), a
// symlink among a socket path's directories is refused: it would carry the path out of the allowed
// directory after the string check passed. The file itself is not checked: QEMU replaces it.

import { lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import { ConverterError } from './errors.js';
import type { ResolvedInterface } from './model.js';
import { containingDir } from './socket-path.js';

/**
 * Checks, from the allowed directory down to the socket's parent, that no existing component is a
 * symlink or a non-directory. Components that do not exist yet end the walk.
 *
 * @throws ConverterError E_SOCKET_PATH naming the interface, the path and the component.
 */
export async function refuseSymlinkedSocketDirs(interfaces: readonly ResolvedInterface[], allowed: readonly string[]): Promise<void> {
  for (const iface of interfaces) {
    const root = containingDir(iface.socketPath, allowed);
    if (root === undefined) continue; // confineSocketPath already refused it
    const below = posix.dirname(iface.socketPath).slice(root.length).split('/').filter((s) => s !== '');
    let dir = root.length > 1 ? root.slice(0, -1) : root;
    for (const component of [dir, ...below.map((s) => (dir = posix.join(dir, s)))]) {
      let kind: 'symlink' | 'other' | 'dir';
      try {
        const st = await lstat(component);
        kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
      } catch {
        break; // not there (yet), or not visible from here: nothing to follow
      }
      if (kind === 'dir') continue;
      throw new ConverterError(
        'E_SOCKET_PATH',
        `interface '${iface.vmiInterface}': socket path ${JSON.stringify(iface.socketPath)}: ${component} is ${kind === 'symlink' ? 'a symlink' : 'not a directory'}`,
        { iface: iface.vmiInterface, hint: 'socket directories must be real directories inside the allowed socket directory' },
      );
    }
  }
}
