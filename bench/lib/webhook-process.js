// The real webhook process (dist/, `kubevirt-vhostuser webhook`) for the memory benches and the
// tests that run them: certificate files from a test CA, the heap node picks under the chart's
// memory limit, its JSON log lines parsed, and its RSS read from /proc.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeCa, makeServerCert, serviceNames } from '../../test/helpers/certs.ts';
import { procStatus } from './proc.js';
import { ROOT } from './setup.js';
import { MIB } from './stats.js';

/** The chart's resources.limits.memory (charts/kubevirt-vhostuser/values.yaml), in MiB. */
export const CHART_MEMORY_LIMIT_MIB = 256;
// The heap node 24 picks in a 256 MiB cgroup: a 2 MiB young generation (see lib/servers.js).
const CHART_HEAP_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256'];
const SERVICE = serviceNames('kubevirt-vhostuser-webhook', 'kubevirt');

/** VmRSS and VmHWM (the peak since start) of a process, in MiB; undefined once it is gone. */
export function memoryMiB(pid) {
  const s = procStatus(pid);
  return s === undefined ? undefined : { rss: s.rss / MIB, peak: s.hwm / MIB };
}

/**
 * Starts the webhook with `args` (after `webhook`, certificate and listen flags) and resolves once
 * it listens. `tls` holds what a client needs to verify it: port, CA and server name.
 */
export async function startWebhookProcess(args) {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npm run build first');
  const work = await mkdtemp(join(tmpdir(), 'kvvu-webhook-'));
  const ca = await makeCa('webhook-process-ca');
  const pair = await makeServerCert(ca, SERVICE);
  await writeFile(join(work, 'tls.crt'), pair.cert);
  await writeFile(join(work, 'tls.key'), pair.key);
  const all = ['webhook', '--tls-cert', join(work, 'tls.crt'), '--tls-key', join(work, 'tls.key'), '--listen', '127.0.0.1:0', ...args];
  const child = spawn(process.execPath, [...CHART_HEAP_FLAGS, join(ROOT, 'bin/kubevirt-vhostuser.js'), ...all], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  const logs = [];
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    await rm(work, { recursive: true, force: true });
  };
  try {
    const port = await new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          const entry = JSON.parse(line);
          logs.push(entry);
          if (entry.msg === 'serving /mutate over HTTPS') resolve(entry.port);
        } catch {
          // not a log line
        }
      });
      void exited.then((code) => reject(new Error(`webhook exited (${code}) before listening: ${stderr.trim()}`)));
    });
    return { child, logs, exited, stop, stderr: () => stderr, memory: () => memoryMiB(child.pid), tls: { port, ca: ca.cert, servername: SERVICE[2] } };
  } catch (err) {
    await stop();
    throw err;
  }
}
