// I/O edge. A reduced-privilege OVS (ovs-vswitchd as `openvswitch:hugetlbfs`, say) is not root and
// not QEMU's user, so it can connect to QEMU's vhost-user socket only through the socket's group:
// connect(2) needs write permission on the socket and search permission on its directories. QEMU
// (uid 107 in KubeVirt) binds the socket with its own group and no write permission for others
// (107:107, srwxrwxr-x under libvirt 9.0 in vhostuser.e2e.test.ts), so the hook sidecar, which
// runs as the same user in the same pod, gives each socket to the configured group with group
// read/write as soon as the socket appears, for the pod's whole life: at boot, and on a migration
// target when its QEMU binds.
//
// The OVS side (host): the userspace CNI's `host.vhost.group` gives the node's socket base
// directory and the pod's shared dir to the same group (docs/install.md, "OVS as a non-root user").

import { watch, type FSWatcher } from 'node:fs';
import { chmod, chown, lstat } from 'node:fs/promises';
import { posix } from 'node:path';
import { ConverterError } from './errors.js';
import type { ResolvedInterface } from './model.js';

/** Added to a socket's mode: the group may connect (write) and, as QEMU's user may, read. */
const GROUP_RW = 0o060;
/** Added to a directory the sidecar owns: the group may search and create, and new sockets inherit the group (setgid). */
const DIR_GROUP_BITS = 0o2070;

/** Where the sharing reports what it did (the hook sidecar's logger: message, then fields). */
export interface SocketGroupLog {
  info(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
}

/** What applying the group to one socket found. */
export type ShareOutcome = 'shared' | 'kept' | 'absent' | 'refused';

/** The process's own ids; replaceable in tests. */
export interface ProcessIds {
  readonly uid: number;
  readonly groups: readonly number[];
}

function ownIds(): ProcessIds {
  return { uid: process.geteuid?.() ?? -1, groups: [process.getegid?.() ?? -1, ...(process.getgroups?.() ?? [])] };
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

/**
 * Gives the sockets QEMU binds (libvirt `mode='server'`) to group `gid` as they appear, and keeps
 * doing so until close(): one directory watch (inotify) per socket directory, and one check of
 * each socket when it is added. Sockets OVS creates (`mode='client'`) are OVS's to set.
 *
 * @example const sharing = new SocketSharing(2001, log); await sharing.share(interfaces); ... sharing.close()
 */
export class SocketSharing {
  private readonly dirs = new Map<string, { readonly watcher: FSWatcher | undefined; readonly names: Set<string> }>();
  private readonly ids: ProcessIds;

  constructor(
    readonly gid: number,
    private readonly log?: SocketGroupLog,
    ids?: ProcessIds,
  ) {
    this.ids = ids ?? ownIds();
  }

  /**
   * Checks each socket directory (the group can reach it; the sidecar can give the group what the
   * directory does not), then shares each socket that is there and watches for the rest.
   * `hostPath` maps an in-pod path to where this process sees it (tests away from a pod).
   *
   * @throws ConverterError E_SOCKET_GROUP naming the interface, the directory and what is missing.
   */
  async share(interfaces: readonly ResolvedInterface[], hostPath: (path: string) => string = (p) => p): Promise<ShareOutcome[]> {
    const outcomes: ShareOutcome[] = [];
    for (const iface of interfaces) {
      if (iface.mode !== 'server') continue;
      const socket = hostPath(iface.socketPath);
      const dir = posix.dirname(socket);
      if (!this.dirs.has(dir)) {
        await this.prepareDir(dir, iface.vmiInterface);
        this.dirs.set(dir, { watcher: this.watchDir(dir), names: new Set() });
      }
      this.dirs.get(dir)?.names.add(posix.basename(socket));
      outcomes.push(await this.shareSocket(socket));
    }
    return outcomes;
  }

  /** Stops watching. Sockets already shared keep their group and mode. */
  close(): void {
    for (const { watcher } of this.dirs.values()) watcher?.close();
    this.dirs.clear();
  }

  /**
   * A directory the sidecar owns gets the group, group rwx and setgid. One it does not own (the
   * emptyDir kubelet makes, root-owned) must already let the group search it, and sockets made in
   * it must end up in the group: inherited (the directory is setgid with that group) or given by
   * this process, which then has to be a member.
   */
  private async prepareDir(dir: string, iface: string): Promise<void> {
    const fail = (what: string, hint: string): never => {
      throw new ConverterError('E_SOCKET_GROUP', `interface '${iface}': socket group ${this.gid}: socket directory ${dir} ${what}`, { iface, hint });
    };
    const st = await lstat(dir).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) {
      return fail(
        st === undefined ? 'is not there' : 'is not a directory',
        'the sidecar must see the directory at the path compute sees it: the webhook mounts shared-dir there, no other socket directory',
      );
    }
    const member = this.ids.groups.includes(this.gid);
    if (st.uid === this.ids.uid) {
      if (!member) fail('cannot be given to the group: this sidecar is not a member', 'the webhook makes the socket group the sidecar\'s runAsGroup; check that the pod kept it');
      if (st.gid !== this.gid) await chown(dir, -1, this.gid);
      if ((st.mode & DIR_GROUP_BITS) !== DIR_GROUP_BITS) await chmod(dir, (st.mode | DIR_GROUP_BITS) & 0o7777);
      return;
    }
    const searchable = (st.gid === this.gid && (st.mode & 0o010) !== 0) || (st.mode & 0o001) !== 0;
    if (!searchable) {
      fail(
        `(owner ${st.uid}:${st.gid}, mode ${octal(st.mode)}) cannot be searched by the group, and this sidecar does not own it`,
        `give the directory to group ${this.gid} host-side (the userspace CNI's host.vhost.group does), or make it searchable`,
      );
    }
    const inherits = st.gid === this.gid && (st.mode & 0o2000) !== 0;
    if (!inherits && !member) {
      fail(
        `(group ${st.gid}) does not pass group ${this.gid} on to new sockets, and this sidecar is not a member, so it cannot give them to it`,
        'the webhook makes the socket group the sidecar\'s runAsGroup; check that the pod kept it',
      );
    }
  }

  private watchDir(dir: string): FSWatcher | undefined {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        const names = this.dirs.get(dir)?.names;
        if (names === undefined) return;
        // No name (some kernels, overflow): look at every socket of the directory.
        for (const n of name === null ? names : names.has(name) ? [name] : []) void this.shareSocket(posix.join(dir, n));
      });
      watcher.on('error', (err) => this.log?.warn('socket group: watching the socket directory failed; sockets bound from now on keep QEMU\'s group', { dir, gid: this.gid, err: err.message }));
      return watcher;
    } catch (err) {
      this.log?.warn('socket group: cannot watch the socket directory; only sockets there now are shared', { dir, gid: this.gid, err: (err as Error).message });
      return undefined;
    }
  }

  /** Gives one socket the group and group read/write; leaves anything that is not QEMU's socket alone. */
  async shareSocket(path: string): Promise<ShareOutcome> {
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined) return 'absent';
    // The stable name holds QEMU's socket or nothing; a link or a file there is not ours to change
    // (and chmod would follow a link).
    if (!st.isSocket() || st.uid !== this.ids.uid) {
      const what = st.isSocket() ? 'the socket is not owned by this sidecar\'s user (QEMU\'s)' : 'not a socket';
      this.log?.warn(`socket group: ${what}; left as it is`, { socket: path, gid: this.gid, owner: st.uid });
      return 'refused';
    }
    if (st.gid === this.gid && (st.mode & GROUP_RW) === GROUP_RW) return 'kept';
    try {
      if (st.gid !== this.gid) await chown(path, -1, this.gid);
      await chmod(path, (st.mode | GROUP_RW) & 0o7777);
    } catch (err) {
      // Gone again (QEMU rebinding) is not a failure: the next event shares the new one.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      this.log?.warn('socket group: cannot give the socket to the group; a non-root OVS cannot connect', { socket: path, gid: this.gid, err: (err as Error).message });
      return 'refused';
    }
    this.log?.info('socket group: socket shared with the group', { socket: path, gid: this.gid, mode: octal(st.mode | GROUP_RW) });
    return 'shared';
  }
}
