// The socket group for a reduced-privilege OVS, on real files: real unix sockets in real
// directories, with the process's ids given so that owner and membership can be played (the tests
// run as root, which chown would never stop). The end-to-end test runs it as QEMU's user for real,
// against OVS-DPDK as a non-root user (vhostuser.e2e.test.ts).
import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SocketSharing, socketGroupProblem, type ConverterError, type ResolvedInterface } from '../../converter/src/index.js';

const GID = 4321;
const OTHER = 4242;

let dir = '';
const servers: Server[] = [];
const sharings: SocketSharing[] = [];
let warnings: string[] = [];
const log = { info: () => undefined, warn: (msg: string) => void warnings.push(msg) };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvvu-group-'));
  warnings = [];
});
afterEach(async () => {
  for (const s of sharings.splice(0)) s.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await rm(dir, { recursive: true, force: true });
});

function iface(socketPath: string, mode: 'server' | 'client' = 'server'): ResolvedInterface {
  return { vmiInterface: 'dpdk0', network: 'ovs', podInterface: 'net1', socketPath, mode, model: 'virtio', rxQueueSize: 1024, txQueueSize: 1024 };
}

/** QEMU's bind: a listening unix socket, with the mode a 022 umask leaves. */
async function bindSocket(path: string): Promise<void> {
  const server = createServer();
  servers.push(server);
  const before = process.umask(0o022);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  } finally {
    process.umask(before);
  }
}

function sharing(ids: { uid: number; groups: number[] }): SocketSharing {
  const s = new SocketSharing(GID, log, ids);
  sharings.push(s);
  return s;
}

async function until(probe: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('socket group: a socket QEMU binds gets the group and group read/write', () => {
  it('shares a socket that is there, then keeps it', async () => {
    const sock = join(dir, 'vu-1');
    await bindSocket(sock);
    const s = sharing({ uid: 0, groups: [0, GID] });
    expect(await s.share([iface(sock)])).toEqual(['shared']);
    const st = await lstat(sock);
    expect(st.gid).toBe(GID);
    expect(st.mode & 0o777).toBe(0o775);
    expect(await s.share([iface(sock)])).toEqual(['kept']);
  });

  it('shares a socket bound after the call, as QEMU binds after OnDefineDomain, and one bound again', async () => {
    const sock = join(dir, 'vu-2');
    const s = sharing({ uid: 0, groups: [GID] });
    expect(await s.share([iface(sock)])).toEqual(['absent']);
    await bindSocket(sock);
    const shared = async (): Promise<boolean> => {
      const st = await lstat(sock);
      return st.gid === GID && (st.mode & 0o070) === 0o070;
    };
    expect(await until(shared)).toBe(true);
    // QEMU of a migration target, or after a restart: unlink, bind again.
    await new Promise((r) => servers.pop()?.close(r));
    await bindSocket(sock);
    expect(await until(shared)).toBe(true);
  });

  it('leaves sockets OVS creates (mode client) alone', async () => {
    const sock = join(dir, 'ovs-owned');
    await bindSocket(sock);
    expect(await sharing({ uid: 0, groups: [GID] }).share([iface(sock, 'client')])).toEqual([]);
    expect((await lstat(sock)).gid).toBe(0);
  });

  it('never follows a link at the socket name: its target keeps its group and mode', async () => {
    const target = join(dir, 'precious');
    await writeFile(target, 'x', { mode: 0o600 });
    await symlink('precious', join(dir, 'vu-3'));
    expect(await sharing({ uid: 0, groups: [GID] }).share([iface(join(dir, 'vu-3'))])).toEqual(['refused']);
    const st = await lstat(target);
    expect([st.gid, st.mode & 0o777]).toEqual([0, 0o600]);
    expect(warnings.join('\n')).toContain('not a socket');
  });

  it('leaves a socket of another user alone (only QEMU\'s, which is the sidecar\'s user)', async () => {
    const sock = join(dir, 'vu-4');
    await bindSocket(sock);
    await chown(sock, OTHER, OTHER);
    expect(await sharing({ uid: 0, groups: [GID] }).share([iface(sock)])).toEqual(['refused']);
    expect((await lstat(sock)).gid).toBe(OTHER);
    expect(warnings.join('\n')).toContain('not owned by this sidecar');
  });

  it('as a real non-root process outside the group: reports the socket it cannot give away, and goes on', async () => {
    // A directory that passes the group on (setgid) lets a non-member through the check; a socket
    // made before it got the group keeps another group, and chown by a non-member fails (EPERM).
    const sock = join(dir, 'vu-5');
    await bindSocket(sock);
    await chown(sock, OTHER, OTHER);
    await chown(dir, 0, GID);
    await chmod(dir, 0o2777);
    const lib = fileURLToPath(new URL('../../dist/converter/src/index.js', import.meta.url));
    const script = `const { SocketSharing } = await import(${JSON.stringify(lib)});
const warn = []; const s = new SocketSharing(${GID}, { info() {}, warn: (m, o) => warn.push(m + ': ' + o.err) });
const out = await s.share([{ vmiInterface: 'dpdk0', socketPath: ${JSON.stringify(sock)}, mode: 'server' }]);
s.close(); console.log(JSON.stringify({ out, warn }));`;
    const child = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile('setpriv', [`--reuid=${OTHER}`, `--regid=${OTHER}`, '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : (err.code as number), out: stdout + stderr }),
      );
    });
    expect(child.code, child.out).toBe(0);
    const { out, warn } = JSON.parse(child.out) as { out: string[]; warn: string[] };
    expect(out).toEqual(['refused']);
    expect(warn.join('\n')).toMatch(/cannot give the socket to the group; a non-root OVS cannot connect: .*EPERM/);
    expect((await lstat(sock)).gid).toBe(OTHER);
  });
});

describe('socket group: the socket directory', () => {
  it('gives a directory the sidecar owns to the group, group rwx and setgid', async () => {
    const sub = join(dir, 'owned');
    await mkdir(sub, { mode: 0o755 });
    await sharing({ uid: 0, groups: [GID] }).share([iface(join(sub, 'vu'))]);
    const st = await lstat(sub);
    expect(st.gid).toBe(GID);
    expect(st.mode & 0o7777).toBe(0o2775);
  });

  it('refuses, naming interface and directory, a directory the group cannot search', async () => {
    const sub = join(dir, 'closed');
    await mkdir(sub);
    await chown(sub, OTHER, OTHER);
    await chmod(sub, 0o750);
    const err = (await sharing({ uid: 0, groups: [GID] }).share([iface(join(sub, 'vu'))]).catch((e: unknown) => e)) as ConverterError;
    expect(err.code).toBe('E_SOCKET_GROUP');
    expect(err.message).toContain(`interface 'dpdk0': socket group ${GID}: socket directory ${sub} (owner ${OTHER}:${OTHER}, mode 0750) cannot be searched by the group`);
    expect(err.details.hint).toContain('host.vhost.group');
  });

  it('accepts a directory of another owner that the group can search, when the sidecar is a member (kubelet\'s emptyDir)', async () => {
    const sub = join(dir, 'emptydir');
    await mkdir(sub);
    await chown(sub, OTHER, 107);
    await chmod(sub, 0o2777);
    await expect(sharing({ uid: 0, groups: [107, GID] }).share([iface(join(sub, 'vu'))])).resolves.toEqual(['absent']);
    expect((await lstat(sub)).gid).toBe(107); // not ours to change
  });

  it('refuses when the sidecar is not in the group and the directory does not pass it on', async () => {
    const sub = join(dir, 'no-member');
    await mkdir(sub);
    await chown(sub, OTHER, 107);
    await chmod(sub, 0o2777);
    const err = (await sharing({ uid: 0, groups: [107] }).share([iface(join(sub, 'vu'))]).catch((e: unknown) => e)) as ConverterError;
    expect(err.code).toBe('E_SOCKET_GROUP');
    expect(err.message).toContain('this sidecar is not a member');
    expect(err.details.hint).toContain('runAsGroup');
  });

  it('refuses a directory it owns but cannot give to a group it is not in', async () => {
    const sub = join(dir, 'mine');
    await mkdir(sub);
    const err = (await sharing({ uid: 0, groups: [0] }).share([iface(join(sub, 'vu'))]).catch((e: unknown) => e)) as ConverterError;
    expect(err.code).toBe('E_SOCKET_GROUP');
    expect(err.message).toContain('cannot be given to the group');
  });

  it('refuses a socket directory that is missing or not a directory', async () => {
    const s = sharing({ uid: 0, groups: [GID] });
    await expect(s.share([iface(join(dir, 'absent', 'vu'))])).rejects.toMatchObject({ code: 'E_SOCKET_GROUP', message: expect.stringContaining('is not there') });
    await writeFile(join(dir, 'file'), '');
    await expect(s.share([iface(join(dir, 'file', 'vu'))])).rejects.toMatchObject({ code: 'E_SOCKET_GROUP', message: expect.stringContaining('is not a directory') });
  });
});

describe('socketGroupProblem: the setting is a numeric, non-root group ID', () => {
  it.each([
    ['2001', undefined],
    ['1', undefined],
    ['4294967294', undefined],
    ['0', 'is the root group'],
    ['4294967295', 'is above 4294967294'],
    ['99999999999999999999', 'is above 4294967294'],
    ['hugetlbfs', 'is not a numeric group ID'],
    ['-5', 'is not a numeric group ID'],
    ['', 'is not a numeric group ID'],
    ['20 01', 'is not a numeric group ID'],
    ['0x7d1', 'is not a numeric group ID'],
  ])('%j', (value, problem) => {
    const found = socketGroupProblem(value);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
