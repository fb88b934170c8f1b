// What `npm pack` ships: the runtime (compiled JavaScript and its declaration files, the hook
// protocol's .proto files, the command), the licence and changelog, and of the fixtures only the
// sample that `npm run sample` (the README's first command) converts. Then the packed tarball
// used as a consumer would: its exports resolve (and nothing else does), TypeScript finds their
// types, and the command converts the sample from inside the package.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/helm.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  scripts: Record<string, string>;
  bin: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
};

interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function npmPack(args: readonly string[]): Promise<PackResult> {
  // --ignore-scripts: `prepare` would compile again; the suite's build already did.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', ...args], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout) as PackResult[];
  if (result === undefined) throw new Error('npm pack printed no result');
  return result;
}

let files: string[];
let work: string;
beforeAll(async () => {
  if (!existsSync(path.join(repoRoot, 'dist/webhook/src/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  files = (await npmPack(['--dry-run'])).files.map((f) => f.path).sort();
  work = await mkdtemp(path.join(tmpdir(), 'pack-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** The fixture files the sample script names. */
const sampleFiles = () => [...(pkg.scripts['sample'] ?? '').matchAll(/fixtures\/\S+/g)].map((m) => m[0]).sort();

const RUNTIME = /^dist\/(cli|converter\/src|sidecar\/src|webhook\/src)\/.+\.(js|mjs|d\.ts)$/;

describe('npm pack', () => {
  it('ships the runtime, its types, the licence, the changelog and the sample, and nothing else', () => {
    const other = files.filter((f) => !RUNTIME.test(f));
    expect(other).toEqual(
      [
        'CHANGELOG.md',
        'LICENSE',
        'README.md',
        'package.json',
        ...Object.values(pkg.bin),
        ...files.filter((f) => /^proto\/kubevirt\/hooks\/[\w/]+\.proto$/.test(f)),
        ...sampleFiles(),
      ].sort(),
    );
    expect(files.filter((f) => f.startsWith('proto/'))).toHaveLength(4);
    expect(sampleFiles()).toEqual(['fixtures/cases/hashed-deviceinfo/annotations', 'fixtures/cases/hashed-deviceinfo/domain.xml', 'fixtures/cases/hashed-deviceinfo/vmi.yaml']);
  });

  it('ships a declaration file beside every module, and no module without a source (nothing stale from an old build)', () => {
    const js = files.filter((f) => f.endsWith('.js') && f.startsWith('dist/'));
    expect(js.length).toBeGreaterThan(50);
    for (const f of js) {
      expect(files, f).toContain(f.replace(/\.js$/, '.d.ts'));
      expect(existsSync(path.join(repoRoot, f.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${f} has no source`).toBe(true);
    }
  });

  it('has a types condition, first, for every export, both files packed', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (subpath === './package.json') continue;
      expect(typeof target, subpath).toBe('object');
      const t = target as { types: string; default: string };
      // TypeScript takes the first condition that matches: types must come before default.
      expect(Object.keys(t), subpath).toEqual(['types', 'default']);
      expect(files, subpath).toContain(t.types.replace(/^\.\//, ''));
      expect(files, subpath).toContain(t.default.replace(/^\.\//, ''));
    }
  });

  it('carries the full Apache License 2.0 that package.json names', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const text = readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8');
    expect(text).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(text).toContain('TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION');
    expect(text).toContain('END OF TERMS AND CONDITIONS');
    expect(text).toContain('APPENDIX: How to apply the Apache License to your work.');
    expect(text.match(/^\s+\d\. [A-Z]/gm)).toHaveLength(9);
  });

  it('has a changelog section for the version it packs', () => {
    expect(readFileSync(path.join(repoRoot, 'CHANGELOG.md'), 'utf8')).toMatch(new RegExp(`^## ${pkg.version.replaceAll('.', '\\.')} `, 'm'));
  });
});

describe('the packed tarball, used as a consumer would', () => {
  let app: string;
  let root: string;
  beforeAll(async () => {
    const { filename } = await npmPack(['--pack-destination', work]);
    app = path.join(work, 'app');
    const modules = path.join(app, 'node_modules');
    await mkdir(modules, { recursive: true });
    await run('tar', ['-xzf', path.join(work, filename), '-C', modules]);
    root = path.join(modules, pkg.name);
    await run('mv', [path.join(modules, 'package'), root]);
    // Its dependencies, without the registry: the ones this checkout installed.
    await symlink(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'));
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  });

  const node = (code: string) => run(process.execPath, ['--input-type=module', '-e', code], { cwd: app });

  it('resolves every export, and refuses paths it does not export', async () => {
    const { stdout } = await node(
      "const w = await import('kubevirt-vhostuser/webhook'); const c = await import('kubevirt-vhostuser/converter'); const s = await import('kubevirt-vhostuser/converter/shared');" +
        "console.log(JSON.stringify([typeof w.buildApp, typeof w.createPlanner, Object.keys(c).length > 10, Object.keys(s).length > 0]));",
    );
    expect(JSON.parse(stdout)).toEqual(['function', 'function', true, true]);
    await expect(node("await import('kubevirt-vhostuser/dist/webhook/src/app.js')")).rejects.toMatchObject({ stderr: expect.stringContaining('ERR_PACKAGE_PATH_NOT_EXPORTED') });
  });

  it('gives TypeScript the declarations through the types conditions', async () => {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', '--typeRoots', path.join(repoRoot, 'node_modules', '@types'), '--skipLibCheck'];
    await writeFile(
      path.join(app, 'ok.ts'),
      "import { createPlanner, type PlanResult } from 'kubevirt-vhostuser/webhook';\nimport type { ConverterErrorCode } from 'kubevirt-vhostuser/converter';\nexport const plan: typeof createPlanner = createPlanner;\nexport type R = PlanResult;\nexport const code: ConverterErrorCode | undefined = undefined;\n",
    );
    await run(process.execPath, [tsc, ...flags, 'ok.ts'], { cwd: app });
    // Wrong on purpose: with the real types this is a type error, with none it would be `any`.
    await writeFile(path.join(app, 'wrong.ts'), "import { createPlanner } from 'kubevirt-vhostuser/webhook';\nexport const n: number = createPlanner;\n");
    await expect(run(process.execPath, [tsc, ...flags, 'wrong.ts'], { cwd: app })).rejects.toMatchObject({ stdout: expect.stringContaining('error TS2322') });
  });

  it('runs the sample from inside the package', async () => {
    const sample = (pkg.scripts['sample'] ?? '').replace(/^node /, '').split(' ');
    const { stdout } = await run(process.execPath, sample, { cwd: root });
    expect(stdout).toBe(readFileSync(path.join(repoRoot, 'fixtures/cases/hashed-deviceinfo/expected.xml'), 'utf8'));
  });
});
