// Test helper (I/O): the real stack of scripts/e2e-vhostuser.sh (hugepages, libvirtd, OVS-DPDK)
// for one end-to-end file: up in a fresh temp directory, down with that directory removed, and
// the file's measured figures written as bench/results/<name>.json (tests may not print).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ovs, run, type Result } from './launcher-pods.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/e2e-vhostuser.sh', import.meta.url));

export interface Stack {
  /** The script's state directory (ovs/, hugepages/, ...). */
  readonly dir: string;
  readonly ovs: Ovs;
}

/**
 * Brings the stack up in a new directory named after `prefix`. When that fails, undoes what `up`
 * got to, removes the directory and throws with the script's output.
 */
export async function stackUp(prefix: string): Promise<Stack> {
  const dir = await mkdtemp(prefix);
  const up = await run(SCRIPT, ['up', dir], 60_000);
  if (up.code !== 0) {
    await stackDown(dir);
    throw new Error(`environment setup failed (needs root and writable hugepages, and no other libvirtd):\n${up.out}`);
  }
  return { dir, ovs: new Ovs(join(dir, 'ovs')) };
}

/**
 * Takes the stack down and removes its directory; returns what the script said, for the caller to
 * assert. Without a directory (stackUp failed, and cleaned up) there is nothing to take down.
 */
export async function stackDown(dir: string): Promise<Result> {
  if (dir === '') return { code: 0, out: '' };
  const down = await run(SCRIPT, ['down', dir], 60_000);
  await rm(dir, { recursive: true, force: true });
  return down;
}

/** Writes `figures` as bench/results/<name>.json, when there are any. */
export async function writeFigures(name: string, figures: Readonly<Record<string, number>>): Promise<void> {
  if (Object.keys(figures).length === 0) return;
  const file = fileURLToPath(new URL(`../../bench/results/${name}.json`, import.meta.url));
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, `${JSON.stringify({ date: new Date().toISOString(), figures }, null, 2)}\n`);
}
