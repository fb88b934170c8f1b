// The read-only ovs-run-dir mount, on a real kernel: the webhook's mount of the OVS run directory
// is applied the way the kubelet applies a volumeMount (a bind mount of the hostPath, remounted
// read-only when `readOnly: true`) inside a private mount namespace (`unshare -m`, root). A probe
// process in that namespace then does what QEMU and libvirt do with a socket directory: connect
// to OVS's socket, and unlink-then-bind a server socket. Read-only, connect() works and the rest
// fails with EROFS; writable, the probe replaces the "node's" db.sock, which is the attack.
import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePod } from '../../webhook/src/admission/review.js';
import { createPlanner } from '../../webhook/src/mutate/plan.js';
import { defaultMutationConfig, loadPod, type Json } from './fixtures.js';

const run = promisify(execFile);

// What a QEMU-like process in the pod tries, reported as JSON: each step's result or errno code.
const PROBE = `
import { createConnection, createServer } from 'node:net';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.argv[2];
const db = join(dir, 'db.sock');
const step = (f) => { try { f(); return 'ok'; } catch (e) { return e.code ?? String(e); } };
const listen = (path) => new Promise((resolve) => {
  const s = createServer();
  s.once('error', (e) => resolve(e.code ?? String(e)));
  s.listen(path, () => resolve('ok'));
});
const connect = () => new Promise((resolve) => {
  const c = createConnection(db);
  let got = '';
  c.on('data', (d) => (got += d));
  c.on('end', () => resolve(got));
  c.on('error', (e) => resolve(e.code ?? String(e)));
});
const out = {};
out.connect = await connect();
out.bindNew = await listen(join(dir, 'vhost-qemu.sock'));
out.writeFile = step(() => writeFileSync(join(dir, 'file'), 'x'));
// QEMU's unix_listen: unlink whatever is at the path, then bind there.
out.unlinkDb = step(() => unlinkSync(db));
out.bindDb = out.unlinkDb === 'ok' ? await listen(db) : 'skipped';
process.stdout.write(JSON.stringify(out));
process.exit(0);
`;

let work: string;
let probe: string;
const servers: Server[] = [];

/** A "node's OVS run dir" of its own for one test, with OVS answering on db.sock. */
async function startOvs(name: string): Promise<string> {
  const hostDir = join(work, name);
  execFileSync('mkdir', ['-p', hostDir]);
  await new Promise((resolve, reject) => {
    const s = createServer((c) => c.end('ovsdb'));
    servers.push(s);
    s.once('error', reject);
    s.listen(join(hostDir, 'db.sock'), () => resolve(undefined));
  });
  return hostDir;
}

/** What a client on the host now reaches at db.sock: the reply, or the errno code. */
function reachHostDb(hostDir: string): Promise<string> {
  return new Promise((resolve) => {
    const c = createConnection(join(hostDir, 'db.sock'));
    let got = '';
    c.on('data', (d) => (got += String(d)));
    c.on('end', () => resolve(got));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

/** The ovs-run-dir volumeMount the webhook adds to compute, with the given flags. */
function ovsMount(flags: readonly string[]): Json {
  const config = defaultMutationConfig(flags);
  const result = createPlanner({ volumes: config.volumes, bindingNames: config.bindingNames, version: WEBHOOK_VERSION })(parsePod(loadPod('launcher-v1-binding')), 'tests/p');
  if (!result.ok) throw result.error;
  const op = result.ops.find((o) => o.path.startsWith('/spec/containers/0/volumeMounts') && (o.value as Json)['name'] === 'ovs-run-dir');
  if (op === undefined) throw new Error('the webhook added no ovs-run-dir mount to compute');
  return op.value as Json;
}

/** Mounts hostDir into a fresh target as the kubelet would for `mount`, then runs the probe there. */
async function probeThrough(hostDir: string, mount: Json): Promise<Record<string, string>> {
  const target = `${hostDir}-in-pod`;
  execFileSync('mkdir', ['-p', target]);
  const script = 'mount --bind "$1" "$2"; if [ "$3" = true ]; then mount -o remount,bind,ro "$2"; fi; exec "$4" "$5" "$2"';
  const { stdout } = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-ec', script, 'sh', hostDir, target, String(mount['readOnly'] === true), process.execPath, probe]);
  return JSON.parse(stdout) as Record<string, string>;
}

beforeAll(async () => {
  // Not skipped when missing: this machine runs the tests as root with unshare available.
  if (process.getuid?.() !== 0) throw new Error('this test needs root: it bind-mounts inside a private mount namespace (unshare -m)');
  try {
    execFileSync('unshare', ['-m', 'true'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`unshare -m true failed (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); this test needs a private mount namespace`);
  }
  work = await mkdtemp(join(tmpdir(), 'ovs-run-dir-'));
  probe = join(work, 'probe.mjs');
  await writeFile(probe, PROBE);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve(undefined)))));
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the ovs-run-dir mount on a real kernel', () => {
  it('read-only by default: connect() to OVS works, creating or unlinking sockets there fails with EROFS', async () => {
    const hostDir = await startOvs('readonly');
    const before = await stat(join(hostDir, 'db.sock'));
    const mount = ovsMount([]);
    expect(mount['readOnly']).toBe(true);

    const out = await probeThrough(hostDir, mount);
    expect(out).toEqual({ connect: 'ovsdb', bindNew: 'EROFS', writeFile: 'EROFS', unlinkDb: 'EROFS', bindDb: 'skipped' });
    // The node's socket is untouched and still answers.
    expect((await stat(join(hostDir, 'db.sock'))).ino).toBe(before.ino);
    expect(await reachHostDb(hostDir)).toBe('ovsdb');
  });

  it('with --ovs-run-dir-writable the same probe replaces the node\'s db.sock (what read-only prevents)', async () => {
    const hostDir = await startOvs('writable');
    const mount = ovsMount(['--ovs-run-dir-writable']);
    expect(mount['readOnly']).toBeUndefined();
    expect(await reachHostDb(hostDir)).toBe('ovsdb');

    const out = await probeThrough(hostDir, mount);
    expect(out).toEqual({ connect: 'ovsdb', bindNew: 'ok', writeFile: 'ok', unlinkDb: 'ok', bindDb: 'ok' });
    // The path now belongs to the probe's (exited) server: OVS's clients no longer reach OVS.
    expect(await reachHostDb(hostDir)).toBe('ECONNREFUSED');
  });
});
