// The sidecar's socket file handling against real files and real unix sockets.
import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareSocketPath, removeSocket } from '../../sidecar/src/socket.js';
import { leaveStaleSocket, socketDir } from './helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await socketDir();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function listen(path: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer().listen(path, () => resolve(server));
  });
}

describe('prepareSocketPath', () => {
  it('accepts a path that does not exist yet', async () => {
    await expect(prepareSocketPath(join(dir, 'vhostuser.sock'))).resolves.toBe('fresh');
  });

  it('removes a stale socket left by a killed process', async () => {
    const path = join(dir, 'vhostuser.sock');
    leaveStaleSocket(path);
    expect((await lstat(path)).isSocket()).toBe(true);
    await expect(prepareSocketPath(path)).resolves.toBe('replaced-stale');
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a socket another server is listening on', async () => {
    const path = join(dir, 'vhostuser.sock');
    const server = await listen(path);
    try {
      await expect(prepareSocketPath(path)).rejects.toThrow(/another server is listening on .*refusing/);
      expect((await lstat(path)).isSocket()).toBe(true);
    } finally {
      server.close();
    }
  });

  it.each([
    ['a regular file', (p: string) => writeFile(p, 'keep me')],
    ['a directory', (p: string) => mkdir(p)],
  ])('refuses to delete %s at the socket path', async (_what, make) => {
    const path = join(dir, 'vhostuser.sock');
    await make(path);
    await expect(prepareSocketPath(path)).rejects.toThrow(/exists and is not a unix socket; refusing to replace it/);
    await expect(lstat(path)).resolves.toBeDefined();
  });

  it('rejects a path longer than sun_path allows', async () => {
    const path = join(dir, `${'x'.repeat(120)}.sock`);
    await expect(prepareSocketPath(path)).rejects.toThrow(/bytes; unix sockets allow at most 107/);
  });

  it('rejects a relative path', async () => {
    await expect(prepareSocketPath('vhostuser.sock')).rejects.toThrow("socket path 'vhostuser.sock' must be absolute");
  });

  it('names the missing socket directory', async () => {
    const path = join(dir, 'absent', 'vhostuser.sock');
    await expect(prepareSocketPath(path)).rejects.toThrow(`socket directory '${join(dir, 'absent')}' does not exist`);
  });
});

describe('removeSocket', () => {
  it('removes a socket file and tolerates a missing one', async () => {
    const path = join(dir, 'vhostuser.sock');
    leaveStaleSocket(path);
    await removeSocket(path);
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(removeSocket(path)).resolves.toBeUndefined();
  });

  it('leaves a regular file alone', async () => {
    const path = join(dir, 'vhostuser.sock');
    await writeFile(path, 'keep me');
    await removeSocket(path);
    expect((await lstat(path)).isFile()).toBe(true);
  });
});
