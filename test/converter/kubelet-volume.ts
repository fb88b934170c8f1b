// Test helper (I/O): writes a downward-API volume the way kubelet's AtomicWriter does: the files
// live in a timestamped `..<ts>` directory, `..data` points at it, and each visible file is a
// symlink through `..data`. An update builds a new directory and renames a new `..data` over the
// old one, so readers never see a half-written file.
import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';

let generation = 0;

/** A fresh, empty volume directory (as mounted before kubelet's first write). */
export function makeVolumeDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'kvvu-podinfo-'));
}

/** Publishes `annotations` (a map, or the file text) atomically, replacing any previous version. */
export async function publishAnnotations(dir: string, annotations: Readonly<Record<string, string>> | string): Promise<void> {
  const text = typeof annotations === 'string' ? annotations : formatDownwardApiFile(annotations);
  const tsDir = `..${Date.now()}_${process.pid}_${generation++}`;
  await mkdir(join(dir, tsDir));
  await writeFile(join(dir, tsDir, 'annotations'), text);
  let previous: string | undefined;
  try {
    previous = await readlink(join(dir, '..data'));
  } catch {
    previous = undefined;
  }
  await symlink(tsDir, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  if (previous === undefined) await symlink(join('..data', 'annotations'), join(dir, 'annotations'));
  else await rm(join(dir, previous), { recursive: true, force: true });
}
