// bin/kubevirt-vhostuser.js runs `hook-sidecar` and `webhook` from their bundles,
// dist/cli/<command>.mjs (scripts/bundle-commands.js, run by `npm run build`), when they exist,
// and every other command, or one whose bundle is missing, from the modules. Checked on a copy of
// the package whose bundles are stand-ins that say they ran, then on the real bundles: each
// exports the `main` bin calls, and leaves out only what it is built to leave out. The webhook
// tests that start the process (test/webhook/drain.test.ts, test/reliability) run its bundle.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPackageRoot } from '../../cli/package.js';
// @ts-expect-error: a build script in plain JavaScript, without types
import { BUNDLES } from '../../scripts/bundle-commands.js';

const ROOT = findPackageRoot();
const COMMANDS = Object.keys(BUNDLES as Record<string, unknown>);

function run(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

describe('which file bin/kubevirt-vhostuser.js runs a command from', () => {
  let pkg: string;
  const stub = (command: string) => join(pkg, 'dist', 'cli', `${command}.mjs`);
  beforeAll(async () => {
    pkg = await mkdtemp(join(tmpdir(), 'bundles-'));
    await cp(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
    // dist/ as built, but dist/cli/ without its bundles, which each case writes or leaves out.
    await mkdir(join(pkg, 'dist', 'cli'), { recursive: true });
    for (const e of await readdir(join(ROOT, 'dist'))) if (e !== 'cli') await symlink(join(ROOT, 'dist', e), join(pkg, 'dist', e));
    for (const f of await readdir(join(ROOT, 'dist', 'cli'))) if (!f.endsWith('.mjs')) await symlink(join(ROOT, 'dist', 'cli', f), join(pkg, 'dist', 'cli', f));
    for (const command of [...COMMANDS, 'mutate']) {
      await writeFile(stub(command), `export async function main(argv) { process.stdout.write('bundle: ' + argv.join(' ') + '\\n'); return 0; }\n`);
    }
  });
  afterAll(() => rm(pkg, { recursive: true, force: true }));

  it.each(COMMANDS)('%s: from its bundle when it exists', async (command) => {
    expect(await run([join(pkg, 'bin/kubevirt-vhostuser.js'), command, '--help'])).toEqual({ code: 0, stdout: `bundle: ${command} --help\n`, stderr: '' });
  });

  it('mutate, which has no bundle of its own: from the modules, whatever lies in dist/cli', async () => {
    const { code, stdout } = await run([join(pkg, 'bin/kubevirt-vhostuser.js'), 'mutate', '--help']);
    expect([code, stdout]).toEqual([0, expect.stringContaining('Usage: kubevirt-vhostuser mutate')]);
  });

  it('webhook: from the modules when its bundle is missing', async () => {
    await rm(stub('webhook'));
    const { code, stdout } = await run([join(pkg, 'bin/kubevirt-vhostuser.js'), 'webhook', '--help']);
    expect([code, stdout]).toEqual([0, expect.stringContaining('Usage: kubevirt-vhostuser webhook')]);
  });
});

describe.each(COMMANDS)('the built bundle of %s', (command) => {
  const file = join(ROOT, 'dist', 'cli', `${command}.mjs`);

  it('is as new as dist/ (npm run build writes both)', () => {
    expect(statSync(file, { throwIfNoEntry: false }), `${file}: run npm run build`).toBeDefined();
    expect(statSync(file).mtimeMs).toBeGreaterThanOrEqual(statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs - 1);
  });

  it('exports the main(argv) bin calls, which runs the command', async () => {
    const check = `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); process.exitCode = await m.main(['${command}', '--help']); console.error(typeof m.main);`;
    const { code, stdout, stderr } = await run(['--input-type=module', '-e', check]);
    expect([code, stderr]).toEqual([0, 'function\n']);
    expect(stdout).toContain(`Usage: kubevirt-vhostuser ${command}`);
  });

  it('imports only node:, the packages it leaves out and the other commands, never a module of its own command', () => {
    const text = readFileSync(file, 'utf8');
    // Static and dynamic imports as the minifier writes them: from"x", import("x"), import(`x`).
    const specifiers = new Set([...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["'`]([@\w.:/-]+)["'`]/g)].map((m) => m[1] ?? ''));
    const { module, external, lazyModules } = (BUNDLES as Record<string, { module: string; external: string[]; lazyModules: string[] }>)[command] ?? { module: '', external: [], lazyModules: [] };
    const others = ['../converter/src/cli.js', '../converter/src/interfaces-cli.js', '../webhook/src/cli.js', './doctor.js', '../sidecar/src/cli.js'].filter((m) => m !== module);
    expect([...specifiers].filter((s) => s.startsWith('node:')).length).toBeGreaterThan(3);
    for (const s of specifiers) expect([s.startsWith('node:'), external.includes(s), others.includes(s), lazyModules.includes(s)], s).toContain(true);
    expect(specifiers).not.toContain(module);
    // What the bundle leaves out is there to be loaded when called.
    for (const m of lazyModules) expect(statSync(join(ROOT, 'dist', 'cli', m), { throwIfNoEntry: false }), m).toBeDefined();
    for (const p of external) expect(statSync(join(ROOT, 'node_modules', p, 'package.json'), { throwIfNoEntry: false }), p).toBeDefined();
  });

  it('leaves out only packages of which node_modules holds one copy, the one the bundle resolves', async () => {
    const { external } = (BUNDLES as Record<string, { external: string[] }>)[command] ?? { external: [] };
    for (const p of external) {
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
        execFile('find', [join(ROOT, 'node_modules'), '-path', `*/node_modules/${p}/package.json`], (err, out) => (err ? reject(err) : resolve({ stdout: out }))),
      );
      expect(stdout.trim().split('\n'), p).toEqual([join(ROOT, 'node_modules', p, 'package.json')]);
    }
  });

  it('is ASCII only when its charset says so: V8 would keep a script with any other character as two bytes each', () => {
    const { charset } = (BUNDLES as Record<string, { charset: string }>)[command] ?? { charset: '' };
    expect(['ascii', 'utf8']).toContain(charset);
    const nonAscii = /[^\x00-\x7f]/.exec(readFileSync(file, 'utf8'));
    if (charset === 'ascii') expect(nonAscii).toBeNull();
    else expect(nonAscii, 'a utf8 bundle that happens to be ASCII: check the charset is still needed').not.toBeNull();
  });
});
