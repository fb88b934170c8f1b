// Real kubectl for tests: `kubectl patch --local` applies a JSON patch with the same JSON Patch
// library family the API server uses for webhook patches. No cluster is contacted.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const KUBECTL = fileURLToPath(new URL('../../.cache/tools/kubectl/kubectl', import.meta.url));

/** Throws a clear error when scripts/fetch-tools.sh has not been run. */
export function requireKubectl(): string {
  if (!existsSync(KUBECTL)) throw new Error(`kubectl not found at ${KUBECTL}; run scripts/fetch-tools.sh first`);
  return KUBECTL;
}

/**
 * Applies `patch` (a JSON Patch array) to `object` with `kubectl patch --local --type=json` and
 * returns kubectl's JSON output. Rejects with kubectl's stderr when the patch does not apply.
 */
export async function kubectlPatchLocal(object: unknown, patch: unknown): Promise<Record<string, unknown>> {
  const kubectl = requireKubectl();
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-patch-'));
  try {
    const file = join(dir, 'object.json');
    await writeFile(file, JSON.stringify(object));
    const { stdout } = await run(kubectl, ['patch', '--local', '-f', file, '--type=json', '-p', JSON.stringify(patch), '-o', 'json'], {
      env: { ...process.env, KUBECONFIG: '/dev/null' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`kubectl patch --local failed: ${err.stderr?.trim() || err.message}`);
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
