// I/O edge. The socket files in the pod, where they are visible (the hook sidecar; `convert` in a
// pod): a symlink among a socket path's directories is refused, since it would carry the path out
// of the allowed directory after the string check passed; and the links that join the CNI's socket
// names to the stable ones are made, atomically and idempotently.

import { randomBytes } from 'node:crypto';
import { lstat, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { ConverterError } from './errors.js';
import type { ResolvedInterface, SocketLink } from './model.js';
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

/** What ensureSocketLinks did for one interface. */
export interface LinkOutcome {
  readonly iface: string;
  readonly link: SocketLink;
  readonly action: 'created' | 'replaced' | 'kept' | 'skipped';
}

export interface LinkOptions {
  /**
   * `required` (the sidecar): the shared dir must be there, since without the link OVS never
   * reaches QEMU. `where-visible` (the CLI, away from a pod): a missing directory skips the link.
   */
  readonly missingDir: 'required' | 'where-visible';
}

/**
 * Makes each interface's socket link: a symlink made under a temporary name and renamed over the
 * link's path, so OVS never sees a half-made link; an existing link to the right name is kept. A
 * file that is not a symlink is never replaced: at the CNI's name it is QEMU's socket of a VM
 * started under the earlier naming, which must keep it until the VM restarts.
 *
 * @throws ConverterError E_SOCKET_LINK naming the interface and the path.
 */
export async function ensureSocketLinks(interfaces: readonly ResolvedInterface[], options: LinkOptions): Promise<LinkOutcome[]> {
  const outcomes: LinkOutcome[] = [];
  for (const iface of interfaces) {
    const link = iface.socketLink;
    if (link === undefined) continue;
    outcomes.push({ iface: iface.vmiInterface, link, action: await ensureLink(iface, link, options) });
  }
  return outcomes;
}

async function ensureLink(iface: ResolvedInterface, link: SocketLink, options: LinkOptions): Promise<LinkOutcome['action']> {
  const fail = (what: string, hint: string, cause?: unknown): never => {
    throw new ConverterError('E_SOCKET_LINK', `interface '${iface.vmiInterface}': socket link ${link.path} -> ${link.target}: ${what}`, { iface: iface.vmiInterface, hint }, cause === undefined ? undefined : { cause });
  };
  const dir = posix.dirname(link.path);
  const existing = await lstat(link.path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : fail(err.message, 'check the shared dir mount', err)));
  if (existing?.isSymbolicLink()) {
    if ((await readlink(link.path)) === link.target) return 'kept';
  } else if (existing !== undefined) {
    const earlier = existing.isSocket() && link.path === iface.cniSocketPath;
    fail(
      earlier ? 'a socket QEMU bound under the earlier naming (the CNI\'s name) is there' : 'a file that is not a symlink is there; refusing to replace it',
      earlier ? `restart the VM once: it then binds ${iface.socketPath}, which migrates` : 'remove it; the CNI and QEMU never put one there',
    );
  }
  const dirThere = await lstat(dir).then((st) => st.isDirectory(), () => false);
  if (!dirThere) {
    if (options.missingDir === 'where-visible') return 'skipped';
    fail(`the directory ${dir} is not mounted in this container`, 'the webhook mounts shared-dir into the binding sidecar at the same path as in compute');
  }
  const temporary = posix.join(dir, `.${posix.basename(link.path)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await symlink(link.target, temporary);
    await rename(temporary, link.path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    fail((err as Error).message, 'the sidecar runs as QEMU\'s user (107) and needs write access to the shared dir', err);
  }
  return existing === undefined ? 'created' : 'replaced';
}
