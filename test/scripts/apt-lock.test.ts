// scripts/setup.sh's apt_get (scripts/lib/apt.sh) against the real apt-get while another process
// holds apt's locks as apt does (fcntl): it waits and then succeeds instead of failing. Nothing
// is installed: `update` reads no source list, `check` only takes the dpkg lock.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../cli/package.js';

const ROOT = findPackageRoot();
const held: ChildProcess[] = [];
afterEach(() => {
  for (const p of held.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** Holds `lockFile` with an fcntl write lock, as apt and dpkg take theirs, until killed. */
async function holdLock(lockFile: string): Promise<ChildProcess> {
  const script = 'import fcntl,sys,time\nf=open(sys.argv[1],"w")\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint("held",flush=True)\ntime.sleep(3600)';
  const p = spawn('python3', ['-c', script, lockFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  held.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout?.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    p.on('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return p;
}

/** Runs apt_get with `args`; resolves once it has exited, calling `onOutput` with all output so far. */
function aptGet(args: readonly string[], onOutput: (all: string) => void, prelude = ''): Promise<{ code: number | null; output: string }> {
  const p = spawn('bash', ['-c', `${prelude}. ${join(ROOT, 'scripts/lib/apt.sh')} && apt_get "$@"; echo "after apt_get: $?"`, 'apt_get', ...args], {
    env: { ...process.env, APT_RETRY_SECONDS: '0.2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const add = (d: Buffer) => onOutput((output += d.toString()));
  p.stdout.on('data', add);
  p.stderr.on('data', add);
  return new Promise((resolve) => p.on('exit', (code) => resolve({ code, output })));
}

const NO_SOURCES = ['-o', 'Dir::Etc::sourcelist=/dev/null', '-o', 'Dir::Etc::sourceparts=/nonexistent'];

describe('apt_get while another apt run holds the lock', () => {
  it('update: retries while the lists lock is held, then succeeds', async () => {
    const holder = await holdLock('/var/lib/apt/lists/lock');
    const r = await aptGet(['update', ...NO_SOURCES], (all) => {
      if (all.includes('another apt or dpkg run holds its lock') && holder.signalCode === null) holder.kill('SIGKILL');
    });
    expect(r.output).toContain('Could not get lock /var/lib/apt/lists/lock');
    expect(r.output).toContain('apt-get update: another apt or dpkg run holds its lock; trying again');
    expect(r.output).toContain('after apt_get: 0');
  });

  it('check (as install): waits for the dpkg lock, then succeeds', async () => {
    const holder = await holdLock('/var/lib/dpkg/lock-frontend');
    const r = await aptGet(['check'], (all) => {
      if (all.includes('Waiting for cache lock') && holder.signalCode === null) holder.kill('SIGKILL');
    });
    expect(r.output).toContain('Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend');
    expect(r.output).toContain('after apt_get: 0');
  });

  it('still fails on an error that is not a lock', async () => {
    const r = await aptGet(['install', '-y', '--no-download', 'kubevirt-vhostuser-no-such-package'], () => {});
    expect(r.output).toContain('Unable to locate package kubevirt-vhostuser-no-such-package');
    expect(r.output).not.toContain('trying again');
    expect(r.output).toContain('after apt_get: 100');
  });

  it("ends a `set -euo pipefail` caller (setup.sh) with apt-get's own status", async () => {
    const r = await aptGet(['install', '-y', '--no-download', 'kubevirt-vhostuser-no-such-package'], () => {}, 'set -euo pipefail; ');
    expect([r.code, r.output.includes('after apt_get')]).toEqual([100, false]);
  });
});
