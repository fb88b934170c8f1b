// Start-up bench: spawns the real CLI (`node bin/kubevirt-vhostuser.js webhook --offline` with a
// certificate from files) and times spawn -> first `GET /readyz` 200 over TLS, several times:
// cold (an empty V8 compile cache, as in a new pod) and warm (the cache of an earlier start).
// Then `hook-sidecar`, spawn -> its "serving" log line (it uses no compile cache), since KubeVirt
// waits for the sidecar before it starts the VM. Each process is stopped with SIGTERM before the
// next starts. Returns figures.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpsRequest } from './lib/servers.js';
import { ROOT } from './lib/setup.js';
import { median, round } from './lib/stats.js';

const RUNS = 9;
const POLL_MS = 2;
const GIVE_UP_MS = 10_000;

/** A port that was free a moment ago (loopback only). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startOnce(cert, cacheDir) {
  const port = await freePort();
  const args = [join(ROOT, 'bin', 'kubevirt-vhostuser.js'), 'webhook', '--offline', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--listen', `127.0.0.1:${port}`];
  const started = performance.now();
  // The webhook enables node's compile cache; NODE_COMPILE_CACHE says where it lives.
  const env = { ...process.env, NODE_COMPILE_CACHE: cacheDir };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  let exitedEarly;
  void exited.then((c) => (exitedEarly = c));
  try {
    while (performance.now() - started < GIVE_UP_MS) {
      if (exitedEarly !== undefined) throw new Error(`webhook exited with ${exitedEarly} before it was ready: ${stderr.trim()}`);
      const res = await httpsRequest(`https://127.0.0.1:${port}/readyz`, { timeoutMs: 1000 }).catch(() => undefined);
      if (res?.status === 200) return performance.now() - started;
      await sleep(POLL_MS);
    }
    throw new Error(`webhook not ready within ${GIVE_UP_MS} ms: ${stderr.trim()}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** Spawn to the sidecar's "serving KubeVirt hook callbacks" line on stderr, in ms. */
async function startSidecarOnce(dir) {
  await mkdir(dir);
  const args = [join(ROOT, 'bin', 'kubevirt-vhostuser.js'), 'hook-sidecar', '--socket', join(dir, 'hook.sock'), '--podinfo', dir];
  const env = { ...process.env };
  delete env.NODE_COMPILE_CACHE;
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  let stderr = '';
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hook-sidecar not serving within ${GIVE_UP_MS} ms: ${stderr.trim()}`)), GIVE_UP_MS);
      child.stderr.on('data', (d) => {
        stderr += d;
        if (!stderr.includes('"serving KubeVirt hook callbacks"')) return;
        clearTimeout(timer);
        resolve(performance.now() - started);
      });
      void exited.then((c) => reject(new Error(`hook-sidecar exited with ${c} before serving: ${stderr.trim()}`)));
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** Median, min and max of RUNS starts, each with the compile cache `cacheDir()` gives it. */
async function startRuns(cert, cacheDir) {
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await startOnce(cert, await cacheDir()));
  return times;
}

export async function benchStartup({ cert, say }) {
  const root = await mkdtemp(join(cert.dir, 'compile-cache-'));
  try {
    let n = 0;
    const cold = await startRuns(cert, () => mkdtemp(join(root, `cold${n++}-`)));
    const warmDir = join(root, 'warm');
    await startOnce(cert, warmDir);
    const warm = await startRuns(cert, async () => warmDir);
    say(`  cold: ${cold.map((t) => t.toFixed(0)).join(', ')} ms; warm: ${warm.map((t) => t.toFixed(0)).join(', ')} ms`);
    const sidecar = [];
    for (let i = 0; i < RUNS; i++) sidecar.push(await startSidecarOnce(join(root, `sidecar${i}`)));
    say(`  hook-sidecar: ${sidecar.map((t) => t.toFixed(0)).join(', ')} ms`);
    return {
      figures: {
        startup_ms: Math.round(median(cold)),
        startup_min_ms: Math.round(Math.min(...cold)),
        startup_max_ms: Math.round(Math.max(...cold)),
        startup_warm_ms: Math.round(median(warm)),
        sidecar_startup_ms: Math.round(median(sidecar)),
        sidecar_startup_min_ms: Math.round(Math.min(...sidecar)),
        sidecar_startup_max_ms: Math.round(Math.max(...sidecar)),
      },
      detail: { coldMs: cold.map((t) => round(t, 1)), warmMs: warm.map((t) => round(t, 1)), sidecarMs: sidecar.map((t) => round(t, 1)) },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
