// The `kubevirt-vhostuser` command as a user runs it (the built bin/): one convention for every
// subcommand: --version, --help from the option tables, `error: CODE: message` and the exit codes
// 0 (success), 1 (bad input) and 2 (bad command line).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../cli/package.js';

const ROOT = findPackageRoot();
const BIN = join(ROOT, 'bin/kubevirt-vhostuser.js');

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const COMMANDS = ['convert', 'interfaces', 'webhook', 'mutate', 'doctor', 'hook-sidecar'];

describe('kubevirt-vhostuser', () => {
  it('prints its version, also after a subcommand', async () => {
    for (const args of [['--version'], ['-V'], ['convert', '--version']]) expect(await run(...args)).toEqual({ code: 0, stdout: `kubevirt-vhostuser ${VERSION}\n`, stderr: '' });
  });

  it('lists the commands and the exit codes; without a command it is a usage error', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toContain(`  ${c}`);
    expect(help.stdout).toContain('Exit codes: 0 success, 1 bad input or a failure');
    expect((await run()).code).toBe(2);
    expect(await run('frobnicate')).toEqual({ code: 2, stdout: '', stderr: `error: E_USAGE: unknown command 'frobnicate'; expected one of: ${COMMANDS.join(', ')}\n` });
  });

  it.each(COMMANDS)('%s: --help exits 0 with the exit codes; an unknown flag is E_USAGE with exit 2', async (command) => {
    const help = await run(command, '--help');
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(new RegExp(`^Usage: kubevirt-vhostuser ${command} `));
    expect(help.stdout).toContain('Exit codes:');
    const bad = await run(command, '--frobnicate');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: (E_USAGE|E_CONFIG_INVALID): Unknown option '--frobnicate'[^\n]*\n$/);
  });

  it('the same flag means the same in convert and hook-sidecar (the shared table)', async () => {
    const [convert, sidecar] = await Promise.all([run('convert', '--help'), run('hook-sidecar', '--help')]);
    for (const flag of ['--wait <seconds>', '--binding-name <name>', '--allow-socket-dir <dir>', '--cni-socket-paths']) {
      const line = (text: string) => text.split('\n').find((l) => l.trimStart().startsWith(flag))?.trim();
      expect(line(sidecar.stdout)).toBe(line(convert.stdout));
    }
  });
});
