// End to end on the real stack, no mocks: a domain rewritten by the converter is defined and
// started by libvirtd with QEMU (TCG), QEMU creates the vhost-user socket at the converter's path,
// and OVS-DPDK connects to it through a dpdkvhostuserclient port. Needs root and hugepages, as CI
// has; without them the test fails (it never skips). scripts/e2e-vhostuser.sh starts and stops the stack.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { rewriteDomain } from '../../converter/src/xml/index.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/e2e-vhostuser.sh', import.meta.url));
const URI = 'qemu:///system';
const NAME = `kvvu-e2e-${process.pid}`;

interface Result {
  readonly code: number;
  readonly out: string;
}

/** Runs a command to completion, bounded in time; never throws. */
function run(cmd: string, args: readonly string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, out: `${stdout}${stderr}${err?.killed === true ? `\n(killed after ${timeoutMs} ms)` : ''}` });
    });
  });
}

/** `virsh start` blocks until the backend connects to a server-mode socket, so it runs in the background. */
function startInBackground(file: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('virsh', ['-q', '-c', URI, 'start', NAME], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 40_000 });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) => resolve({ code: 127, out: `${out}${err.message} (${file})` }));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

async function waitForSocket(path: string, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    if ((await stat(path).catch(() => null))?.isSocket() === true) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A small TCG guest with 2 MiB hugepages; the rewrite adds the interface and shared access. */
function baseDomain(): string {
  return `<domain type='qemu'>
  <name>${NAME}</name>
  <memory unit='MiB'>128</memory>
  <memoryBacking>
    <hugepages>
      <page size='2048' unit='KiB'/>
    </hugepages>
  </memoryBacking>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <cpu mode='custom' match='exact'>
    <model fallback='allow'>qemu64</model>
  </cpu>
  <devices>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

describe('vhost-user end to end: converter -> libvirtd -> QEMU -> OVS-DPDK', () => {
  it('starts the VM and OVS-DPDK connects to the socket at the converter\'s path', { timeout: 90_000 }, async () => {
    const dir = await mkdtemp('/tmp/kvvu-e2e-');
    const socketPath = join(dir, 'usrcni', 'abc-net1');
    const ovsDb = `unix:${join(dir, 'ovs', 'db.sock')}`;
    try {
      const up = await run(SCRIPT, ['up', dir], 60_000);
      expect(up.code, `environment setup failed (needs root and writable hugepages):\n${up.out}`).toBe(0);

      const iface: ResolvedInterface = {
        vmiInterface: 'net1',
        network: 'userspace-ovs-net-1',
        podInterface: 'net1',
        socketPath,
        mode: 'server',
        model: 'virtio',
        rxQueueSize: 1024,
        txQueueSize: 1024,
        mac: '02:00:00:00:00:01',
      };
      const domain = rewriteDomain(baseDomain(), [iface]);
      expect(domain).toContain("<access mode='shared'/>");
      const file = join(dir, 'domain.xml');
      await writeFile(file, domain);
      await writeFile(join(dir, 'domain-name'), NAME);
      const define = await run('virsh', ['-q', '-c', URI, 'define', '--validate', file]);
      expect(define.code, define.out).toBe(0);

      const started = startInBackground(file);
      expect(await waitForSocket(socketPath, 20_000), `QEMU created no socket at ${socketPath}`).toBe(true);
      const port = await run('ovs-vsctl', [`--db=${ovsDb}`, '--timeout=20', 'add-port', 'br0', 'vhu-net1', '--', 'set', 'Interface', 'vhu-net1', 'type=dpdkvhostuserclient', `options:vhost-server-path=${socketPath}`]);
      expect(port.code, port.out).toBe(0);
      const start = await started;
      expect(start.code, start.out).toBe(0);

      const state = await run('virsh', ['-q', '-c', URI, 'domstate', NAME]);
      expect(state.out.trim()).toBe('running');
      const ifaces = await run('virsh', ['-q', '-c', URI, 'domiflist', NAME]);
      expect(ifaces.out).toMatch(new RegExp(`vhostuser\\s+${socketPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+virtio\\s+02:00:00:00:00:01`));
      const log = await readFile(join(dir, 'ovs', 'ovs-vswitchd.log'), 'utf8');
      expect(log).toContain(`vHost User device 'vhu-net1' created`);
      expect(log.match(/VHOST_CONFIG.*read message/g)?.length ?? 0).toBeGreaterThan(5);
    } finally {
      const down = await run(SCRIPT, ['down', dir], 60_000);
      await rm(dir, { recursive: true, force: true });
      expect(down.code, down.out).toBe(0);
    }
  });
});
