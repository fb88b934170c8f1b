// hookSidecarCommand in this process: its flags and env, serving until Shutdown or a stop
// signal, and the signal handlers it leaves behind (none). cli.test.ts runs the built command
// as KubeVirt does; this file sees what a process boundary hides.
import fs from 'node:fs';
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hookSidecarCommand } from '../../sidecar/src/cli.js';
import { hookClient, services, sidecarCase, socketDir } from './helpers.js';

const { podinfo } = sidecarCase('binding-hashed');
let dir: string;
let socketPath: string;
beforeEach(async () => {
  dir = await socketDir();
  socketPath = join(dir, 'vhostuser.sock');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** What the command writes to stdout and stderr through process.*.write while `fn` runs. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = await fn();
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

/** The log lines pino writes straight to fd 2 while the command runs, kept out of the test output. */
function logLines(): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  const writeSync = fs.writeSync.bind(fs) as (fd: number, data: string | Buffer) => number;
  vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: string | Buffer) => {
    if (fd !== 2) return writeSync(fd, data);
    for (const line of String(data).split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    return Buffer.byteLength(data);
  }) as typeof fs.writeSync);
  return lines;
}

async function untilServing(path: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await lstat(path).catch(() => undefined))?.isSocket()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no socket at ${path} after 5 s`);
}

describe('hookSidecarCommand.run', () => {
  it('prints its usage for --help, naming the env it reads, and exits 0', async () => {
    const r = await captured(() => hookSidecarCommand.run(['--help']));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kubevirt-vhostuser hook-sidecar \[options\]/);
    expect(r.stdout).toContain('NETWORK_BINDING_PLUGIN_NAME');
    expect(r.stdout).toContain('KUBEVIRT_VHOSTUSER_SOCKET_DIRS');
    expect(r.stdout).toContain('KUBEVIRT_VHOSTUSER_SOCKET_GROUP');
  });

  it.each([
    [{ KUBEVIRT_VHOSTUSER_SOCKET_GROUP: 'hugetlbfs' }, [], 'error: E_USAGE: KUBEVIRT_VHOSTUSER_SOCKET_GROUP "hugetlbfs" is not a numeric group ID (names are not resolved: the container\'s /etc/group is not the node\'s)\n'],
    [{ KUBEVIRT_VHOSTUSER_SOCKET_GROUP: '0' }, [], 'error: E_USAGE: KUBEVIRT_VHOSTUSER_SOCKET_GROUP "0" is the root group, which would share the sockets with every root-group process\n'],
    [{}, ['--socket-group=-1'], 'error: E_USAGE: --socket-group "-1" is not a numeric group ID (names are not resolved: the container\'s /etc/group is not the node\'s)\n'],
    // The flag wins over the env, and is checked as strictly.
    [{ KUBEVIRT_VHOSTUSER_SOCKET_GROUP: '2001' }, ['--socket-group', '4294967295'], 'error: E_USAGE: --socket-group "4294967295" is above 4294967294, the largest group ID\n'],
  ])('exits 2 before serving for a socket group it cannot use (%j %j)', async (env, args, line) => {
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const r = await captured(() => hookSidecarCommand.run(['--socket', socketPath, ...args]));
    expect([r.code, r.stderr]).toEqual([2, line]);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['/run/vhost/,relative', 'error: E_USAGE: KUBEVIRT_VHOSTUSER_SOCKET_DIRS "relative" is not an absolute path\n'],
    [' / ', 'error: E_USAGE: KUBEVIRT_VHOSTUSER_SOCKET_DIRS "/" is the root directory, which would allow any socket path\n'],
  ])('exits 2 before serving when KUBEVIRT_VHOSTUSER_SOCKET_DIRS is %j', async (value, line) => {
    vi.stubEnv('KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value);
    const r = await captured(() => hookSidecarCommand.run(['--socket', socketPath]));
    expect([r.code, r.stderr]).toEqual([2, line]);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['{', 'error: E_USAGE: KUBEVIRT_VHOSTUSER_KUBE_OVN: not JSON'],
    ['[{"nad":"vnf/ovn-dpdk","socket":"../../run/openvswitch/db.sock"}]', 'error: E_USAGE: KUBEVIRT_VHOSTUSER_KUBE_OVN: [0].socket: must be one file name'],
  ])('exits 2 before serving when KUBEVIRT_VHOSTUSER_KUBE_OVN is %j', async (value, line) => {
    vi.stubEnv('KUBEVIRT_VHOSTUSER_KUBE_OVN', value);
    const r = await captured(() => hookSidecarCommand.run(['--socket', socketPath]));
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith(line)).toBe(true);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 1 naming a socket directory that does not exist', async () => {
    const r = await captured(() => hookSidecarCommand.run(['--socket', join(dir, 'none', 'vhostuser.sock'), '--podinfo', podinfo]));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: E_HOOK_SOCKET: socket directory '.*\/none' does not exist/);
  });

  it.each(['Shutdown', 'SIGTERM', 'SIGHUP'] as const)('serves until %s, then exits 0 with the socket and its signal handlers gone', async (how) => {
    vi.stubEnv('NETWORK_BINDING_PLUGIN_NAME', 'dpdk');
    const log = logLines();
    const handlers = process.listenerCount('SIGTERM');
    const run = hookSidecarCommand.run(['--socket', socketPath, '--podinfo', podinfo, '--wait', '0', '--binding-name', 'extra']);
    await untilServing(socketPath);
    expect(process.listenerCount('SIGTERM')).toBe(handlers + 1);
    const info = hookClient(socketPath, services.info);
    try {
      expect(await info.call('Info')).toMatchObject({ name: 'kubevirt-vhostuser' });
      if (how === 'Shutdown') {
        const callbacks = hookClient(socketPath, services.callbacks.v1alpha3);
        await expect(callbacks.call('Shutdown')).resolves.toEqual({});
        callbacks.close();
      } else {
        // The handler the command installed, without a real signal to this test process.
        process.emit(how, how);
      }
    } finally {
      info.close();
    }
    expect(await run).toBe(0);
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(process.listenerCount('SIGTERM')).toBe(handlers);
    // The binding KubeVirt names in the env comes first, then the flag's.
    expect(log.map((l) => l['msg'])).toEqual(['serving KubeVirt hook callbacks', ...(how === 'Shutdown' ? ['Shutdown requested by virt-launcher'] : []), 'stopping', 'stopped']);
    expect(log[0]).toMatchObject({ socket: socketPath, bindingNames: ['dpdk', 'extra'], waitMs: 0 });
    expect(log.at(-1)).toMatchObject({ reason: how === 'Shutdown' ? 'Shutdown call' : how });
  });
});
