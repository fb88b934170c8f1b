// Shared set-up of the bench scripts: repository paths, the admission review under load, and a
// serving certificate written to a temporary directory (made with the webhook's own dev-cert code).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(ROOT, 'dist');

/**
 * A genuine launcher pod of stock KubeVirt (binding plugin `vhostuser`, its sidecar in the pod):
 * the offline webhook patches it, so every request runs the whole decision and patch path.
 */
export const REVIEW_FILE = join(ROOT, 'fixtures', 'admission-reviews', 'create-v1-binding.json');

export async function loadReview() {
  try {
    return await readFile(REVIEW_FILE, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the bench admission review ${REVIEW_FILE}: ${err.message}`);
  }
}

/** Imports a compiled module; says to build first when dist/ is missing. */
export async function importDist(path) {
  try {
    return await import(join(DIST, path));
  } catch (err) {
    if (err.code === 'ERR_MODULE_NOT_FOUND') throw new Error(`dist/${path} is missing: run npm run build first (npm run bench does)`);
    throw err;
  }
}

/** A temporary directory with tls.crt and tls.key; `cleanup()` removes it. */
export async function makeCertDir() {
  const { createDevKeyPair } = await importDist('webhook/src/tls.js');
  const pair = await createDevKeyPair();
  const dir = await mkdtemp(join(tmpdir(), 'kvvu-bench-'));
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key, { mode: 0o600 });
  return { dir, certFile, keyFile, pair, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
