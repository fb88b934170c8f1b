// The real command, as KubeVirt starts it in the sidecar container: `kubevirt-vhostuser
// hook-sidecar` from the built package, driven over its socket and stopped by Shutdown or SIGTERM.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { status as grpcStatus } from '@grpc/grpc-js';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../sidecar/src/proto.js';
import { defineRequest, domainFixture, hookClient, leaveStaleSocket, resultXml, services, sidecarCase, socketDir } from './helpers.js';

const root = findPackageRoot();
const BIN = join(root, 'bin/kubevirt-vhostuser.js');
const { podinfo, vmiJson } = sidecarCase('binding-hashed');
const domain = domainFixture('kubevirt-hooks');

/** Fails clearly when dist/ is missing or older than the sidecar sources (npm test builds first). */
async function assertBuilt(): Promise<void> {
  const built = await stat(join(root, 'dist/sidecar/src/cli.js')).catch(() => undefined);
  if (built === undefined) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests');
  const srcDir = join(root, 'sidecar/src');
  for (const f of await readdir(srcDir)) {
    if ((await stat(join(srcDir, f))).mtimeMs > built.mtimeMs) throw new Error(`dist/ is older than sidecar/src/${f}: run \`npm run build\``);
  }
  // bin/kubevirt-vhostuser.js runs hook-sidecar from this bundle: these tests test it.
  const bundle = await stat(join(root, 'dist/cli/hook-sidecar.mjs')).catch(() => undefined);
  if (bundle === undefined || bundle.mtimeMs < built.mtimeMs) throw new Error('dist/cli/hook-sidecar.mjs is missing or older than dist/: run `npm run build`');
}

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stderr: string[];
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the command and resolves once it logs that it serves (or rejects if it exits first). */
function startCli(args: string[], env: Record<string, string> = {}): Promise<Running> {
  // As in a pod: the shared dir exists (a tmpfs /var/lib in a private mount namespace), so the
  // sidecar can make its socket links there without touching this machine's /var/lib.
  const script = 'mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/cni/usrcni && exec "$0" "$@"';
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, BIN, 'hook-sidecar', ...args], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  const stderr: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        stderr.push(line);
        if (line.includes('"serving KubeVirt hook callbacks"')) resolve({ child, stderr, exit });
      }
    });
    void exit.then((e) => reject(new Error(`exited early (${e.code ?? e.signal}): ${stderr.join('\n')}${buf}`)));
  });
}

/** Runs the command to completion: exit code and output. */
function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [BIN, 'hook-sidecar', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

let dir: string;
let socketPath: string;
beforeAll(assertBuilt);
beforeEach(async () => {
  dir = await socketDir();
  socketPath = join(dir, 'vhostuser.sock');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kubevirt-vhostuser hook-sidecar: bad input', () => {
  it('prints its usage for --help and exits 0', () => {
    const res = runCli(['--help']);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^Usage: kubevirt-vhostuser hook-sidecar \[options\]/);
    expect(res.stdout).toContain('/var/run/kubevirt-hooks/vhostuser.sock');
  });

  it.each([
    [['--wait', 'soon'], 2, /^error: E_USAGE: --wait "soon": expected a number of seconds from 0 to 60\n$/],
    [['--wait', '61'], 2, /^error: E_USAGE: --wait "61": expected a number of seconds from 0 to 60\n$/],
    [['--binding-name='], 2, /^error: E_USAGE: --binding-name must not be empty\n$/],
    [['--port', '1'], 2, /^error: E_USAGE: Unknown option '--port'.*\n$/],
    [['extra'], 2, /^error: E_USAGE: Unexpected argument 'extra'.*\n$/],
  ])('rejects %j with exit code %i and one error line', (args, code, message) => {
    const res = runCli(args);
    expect(res.status).toBe(code);
    expect(res.stderr).toMatch(message);
  });

  it('exits 2 naming a bad directory in KUBEVIRT_VHOSTUSER_SOCKET_DIRS or --allow-socket-dir', () => {
    const env = spawnSync(process.execPath, [BIN, 'hook-sidecar', '--socket', socketPath], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, KUBEVIRT_VHOSTUSER_SOCKET_DIRS: '/run/vhost/,relative' },
    });
    expect(env.status).toBe(2);
    expect(env.stderr).toBe('error: E_USAGE: KUBEVIRT_VHOSTUSER_SOCKET_DIRS "relative" is not an absolute path\n');
    const flag = runCli(['--socket', socketPath, '--allow-socket-dir', '/']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toBe('error: E_USAGE: --allow-socket-dir "/" is the root directory, which would allow any socket path\n');
  });

  it('exits 1 naming a socket directory that does not exist', () => {
    const res = runCli(['--socket', join(dir, 'no/such/dir/vhostuser.sock')]);
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(`error: E_HOOK_SOCKET: socket directory '${join(dir, 'no/such/dir')}' does not exist; in a virt-launcher pod KubeVirt mounts it into binding sidecars\n`);
  });

  it('exits 1 and leaves a regular file at the socket path alone', async () => {
    await writeFile(socketPath, 'not a socket');
    const res = runCli(['--socket', socketPath]);
    expect(res.status).toBe(1);
    expect(res.stderr).toBe(`error: E_HOOK_SOCKET: '${socketPath}' exists and is not a unix socket; refusing to replace it\n`);
    expect((await lstat(socketPath)).isFile()).toBe(true);
  });
});

describe('kubevirt-vhostuser hook-sidecar: serving', () => {
  it('serves the binding named by NETWORK_BINDING_PLUGIN_NAME and --binding-name, and exits 0 on Shutdown', async () => {
    leaveStaleSocket(socketPath);
    const run = await startCli(['--socket', socketPath, '--podinfo', podinfo, '--wait', '1', '--binding-name', 'extra'], { NETWORK_BINDING_PLUGIN_NAME: 'dpdk' });
    const info = hookClient(socketPath, services.info);
    const callbacks = hookClient(socketPath, services.callbacks.v1alpha3);
    try {
      expect(await info.call('Info')).toMatchObject({ name: 'kubevirt-vhostuser', versions: ['v1alpha3', 'v1alpha2', 'v1alpha1'] });
      const vmi = JSON.parse(vmiJson) as { spec: { domain: { devices: { interfaces: { binding?: { name: string } }[] } } } };
      const [, dpdk0, dpdk1] = vmi.spec.domain.devices.interfaces;
      const define = async (): Promise<string> => resultXml(await callbacks.call('OnDefineDomain', defineRequest(domain, vmi)));
      // Named `vhostuser` (the default) but the env says `dpdk`: not ours, the domain comes back as is.
      expect(await define()).toBe(domain);
      dpdk0!.binding = { name: 'dpdk' };
      dpdk1!.binding = { name: 'extra' };
      const xml = await define();
      expect(xml).toContain("<alias name='ua-dpdk0'/>");
      expect(xml).toContain("<alias name='ua-dpdk1'/>");
      await expect(callbacks.call('Shutdown')).resolves.toEqual({});
    } finally {
      info.close();
      callbacks.close();
    }
    expect(await run.exit).toEqual({ code: 0, signal: null });
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    const logs = run.stderr.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.map((l) => l['msg'])).toEqual([
      'replaced a stale socket left by a previous run',
      'serving KubeVirt hook callbacks',
      'OnDefineDomain done',
      'OnDefineDomain done',
      'Shutdown requested by virt-launcher',
      'stopping',
      'stopped',
    ]);
    expect(logs[1]).toMatchObject({ bindingNames: ['dpdk', 'extra'], waitMs: 1000, socket: socketPath });
    expect(logs.slice(2, 4)).toMatchObject([
      { vmi: 'vms/vm-dpdk', interfaces: [] },
      { vmi: 'vms/vm-dpdk', interfaces: [{ name: 'dpdk0', source: 'k8s.v1.cni.cncf.io/network-status' }, { name: 'dpdk1', source: 'k8s.v1.cni.cncf.io/network-status' }] },
    ]);
  });

  it('confines socket paths to the shared dir plus the directories KUBEVIRT_VHOSTUSER_SOCKET_DIRS allows', async () => {
    const elsewhere = await socketDir();
    const moved = join(elsewhere, 'podinfo');
    await mkdir(moved);
    const text = await readFile(join(podinfo, 'annotations'), 'utf8');
    await writeFile(join(moved, 'annotations'), text.replaceAll('/var/lib/cni/usrcni/', `${elsewhere}/vhu/`));
    const define = async (env: Record<string, string>): Promise<string> => {
      const run = await startCli(['--socket', socketPath, '--podinfo', moved, '--wait', '0'], env);
      const callbacks = hookClient(socketPath, services.callbacks.v1alpha3);
      try {
        return resultXml(await callbacks.call('OnDefineDomain', defineRequest(domain, JSON.parse(vmiJson))));
      } finally {
        callbacks.close();
        run.child.kill('SIGTERM');
        await run.exit;
      }
    };
    try {
      await expect(define({})).rejects.toMatchObject({ code: grpcStatus.FAILED_PRECONDITION, details: expect.stringContaining('is outside the allowed socket directories /var/lib/cni/usrcni/') });
      expect(await define({ KUBEVIRT_VHOSTUSER_SOCKET_DIRS: `/run/other,${elsewhere}/vhu` })).toContain(`path='${elsewhere}/vhu/5f0c1e9a7b3d-pod0234249e469'`);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('exits 0 with its socket removed on %s', async (signal) => {
    const run = await startCli(['--socket', socketPath, '--podinfo', podinfo]);
    expect((await lstat(socketPath)).isSocket()).toBe(true);
    run.child.kill(signal);
    expect(await run.exit).toEqual({ code: 0, signal: null });
    await expect(lstat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(JSON.parse(run.stderr.at(-1) ?? '{}')).toMatchObject({ msg: 'stopped', reason: signal });
  });
});
