// The command on a Node older than 24: one line saying so and how to run it with the project's
// own Node, exit 1, before anything that needs Node 24 is loaded. Run with the machine's own Node
// when it is older (Debian's), else with ours made to report an older version.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../cli/package.js';

const ROOT = findPackageRoot();
const BIN = join(ROOT, 'bin/kubevirt-vhostuser.js');

/** The first `node` on PATH outside node_modules (the machine's), if it is older than 24. */
function olderSystemNode(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue;
    const node = join(dir, 'node');
    try {
      accessSync(node, constants.X_OK);
    } catch {
      continue;
    }
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    return Number(version.replace(/^v/, '').split('.')[0]) < 24 ? node : undefined;
  }
  return undefined;
}

function run(node: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(node, [...args], { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }));
  });
}

describe('kubevirt-vhostuser on Node older than 24', () => {
  const system = olderSystemNode();
  // Ours, reporting 20.20.2 from before the entry point runs.
  const args = system !== undefined ? [BIN, 'convert', '--help'] : ['--import', "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'})", BIN, 'convert', '--help'];

  it(`says in one line that it needs Node 24 and how to run it (${system ?? 'our Node as 20.20.2'})`, async () => {
    const r = await run(system ?? process.execPath, args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: E_NODE_VERSION: kubevirt-vhostuser needs Node 24 or later, this is Node 20\.\d+\.\d+; in the project run it as `npx kubevirt-vhostuser \.\.\.`, which uses its own Node 24 \(node_modules\/\.bin\/node\)\n$/);
  });

  it('the way it names works: npx runs it on the Node 24 of node_modules/.bin', async () => {
    const r = await run('npx', ['--prefix', ROOT, 'kubevirt-vhostuser', '--version']);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect([r.code, r.stdout]).toEqual([0, `kubevirt-vhostuser ${version}\n`]);
  });
});
