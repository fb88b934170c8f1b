// Parent side of the bench servers: forks server-child.js (with --expose-gc, nothing pinned, the
// same flags for both kinds), waits for it to listen, and queries it over IPC.
import { fork } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { ROOT } from './setup.js';

const CHILD = join(ROOT, 'bench', 'lib', 'server-child.js');
const START_TIMEOUT_MS = 30_000;
const QUERY_TIMEOUT_MS = 10_000;

/**
 * The heap node sizes for itself under the chart's memory limit (resources.limits.memory 256Mi):
 * in a 256 MiB cgroup node 24 reports heap_size_limit 259 MiB and keeps a 2 MiB young generation,
 * and these flags give the same. Without them, on a large host, V8 grows the young generation to
 * 128 MiB under load, which inflates RSS and scavenge pauses far beyond what the chart runs.
 */
const CHART_HEAP_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256'];

/**
 * Node flags for the server processes from the environment (docs/benchmarks.md):
 * BENCH_CPU_PROF=<dir> writes a .cpuprofile per process; BENCH_NODE_FLAGS adds any others (after CHART_HEAP_FLAGS, so they win).
 */
function extraFlags() {
  const { BENCH_CPU_PROF: prof, BENCH_NODE_FLAGS: flags } = process.env;
  return [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(flags ? flags.split(/\s+/).filter(Boolean) : [])];
}

/** Starts a `bare` or `webhook` server process; resolves once it listens. */
export function startServer(kind, cert) {
  // stdout (the webhook's JSON log lines) goes to /dev/null, as cheap as a log collector can be;
  // stderr is kept to explain a crash.
  const child = fork(CHILD, [kind, cert.certFile, cert.keyFile], {
    execArgv: ['--expose-gc', ...CHART_HEAP_FLAGS, ...extraFlags()],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const pending = new Map();
  let nextId = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${kind} server did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      child.kill();
      reject(err);
    }
    child.on('exit', (code) => {
      const err = new Error(`${kind} server exited with code ${code}${stderr === '' ? '' : `: ${stderr.trim()}`}`);
      for (const p of pending.values()) p.reject(err);
      fail(err);
    });
    child.on('message', (msg) => {
      if ('ready' in msg) {
        if (!msg.ready) return fail(new Error(`${kind} server: ${msg.error}`));
        clearTimeout(timer);
        return resolve(handle(kind, child, msg.port, msg.path, pending, () => nextId++));
      }
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error !== undefined) p?.reject(new Error(`${kind} server: ${msg.error}`));
      else p?.resolve(msg.result);
    });
  });
}

function handle(kind, child, port, path, pending, newId) {
  let stopped;
  return {
    kind,
    port,
    url: `https://127.0.0.1:${port}${path}`,
    origin: `https://127.0.0.1:${port}`,
    pid: child.pid,
    query(cmd, args = {}) {
      const id = newId();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${kind} server: no answer to ${cmd}`)), QUERY_TIMEOUT_MS);
        pending.set(id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        child.send({ id, cmd, ...args });
      });
    },
    /** Ends the process (it exits when the IPC channel closes); safe to call twice. */
    stop() {
      stopped ??= new Promise((resolve) => {
        child.removeAllListeners('exit');
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      });
      return stopped;
    },
  };
}

/** One HTTPS request on a fresh connection; resolves status, headers and body text. */
export function httpsRequest(url, { method = 'GET', body, headers = {}, timeoutMs = 5_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
