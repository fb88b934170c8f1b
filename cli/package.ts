// I/O edge: the package this code ships in (its root and manifest), found from this module's
// location, never from the working directory: works from the sources (tests) and from dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'kubevirt-vhostuser';

function readManifest(file: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}

/** The nearest ancestor of `start` with our package.json. */
export function findPackageRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readManifest(manifest)?.name === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${start}`);
  }
}

/** The package's version, as `npm pack` would publish it. */
export function packageVersion(): string {
  const version = readManifest(join(findPackageRoot(), 'package.json'))?.version;
  return typeof version === 'string' ? version : 'unknown';
}
