// I/O edge: prepares and removes the sidecar's unix socket file. A stale socket left by a
// crashed run is replaced; a live one (another server answers) or a non-socket file is refused.
import { lstat, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { dirname, isAbsolute } from 'node:path';
import { MAX_SOCKET_PATH_BYTES } from './constants.js';

export type SocketPreparation = 'fresh' | 'replaced-stale';

/** Thrown when the socket path cannot be used; `message` says what and what to do. */
export class SocketPathError extends Error {
  override name = 'SocketPathError' as const;
  readonly code = 'E_HOOK_SOCKET';
}

/**
 * Makes `path` ready for `listen()`: checks its length and directory, and removes a stale
 * socket from a previous run. Never deletes anything that is not a unix socket.
 */
export async function prepareSocketPath(path: string): Promise<SocketPreparation> {
  if (!isAbsolute(path)) throw new SocketPathError(`socket path '${path}' must be absolute`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new SocketPathError(`socket path '${path}' is ${bytes} bytes; unix sockets allow at most ${MAX_SOCKET_PATH_BYTES}`);
  }
  const dir = dirname(path);
  const dirStat = await lstatOrUndefined(dir);
  if (dirStat === undefined || !dirStat.isDirectory()) {
    throw new SocketPathError(
      `socket directory '${dir}' does not exist; in a virt-launcher pod KubeVirt mounts it into binding sidecars`,
    );
  }
  const st = await lstatOrUndefined(path);
  if (st === undefined) return 'fresh';
  if (!st.isSocket()) {
    throw new SocketPathError(`'${path}' exists and is not a unix socket; refusing to replace it`);
  }
  if (await isListening(path)) {
    throw new SocketPathError(`another server is listening on '${path}'; refusing to take its socket`);
  }
  await unlink(path);
  return 'replaced-stale';
}

/** Removes our socket file if it is still a socket; missing is fine. */
export async function removeSocket(path: string): Promise<void> {
  const st = await lstatOrUndefined(path);
  if (st?.isSocket() === true) await unlink(path).catch(ignoreMissing);
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

/** True when something accepts connections on the socket (ECONNREFUSED means stale). */
function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = createConnection({ path });
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
}
