// The Dockerfile, read as docker buildx reads it. No Docker engine runs here, and hadolint is in
// neither Debian nor the npm registry, so: a few of hadolint's rules checked by hand, the
// multi-platform layout (the build stage on $BUILDPLATFORM, a final stage that only copies, so
// arm64 needs no emulation), and the final stage's file layout assembled from what the build
// stage compiles, with its commands run: a source directory left out of the build stage shows
// up as a command that cannot load.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir, repoRoot } from '../helpers/helm.js';

const run = promisify(execFile);

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly steps: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, split into stages. */
function readDockerfile(text: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined: string[] = [];
  let cur = '';
  for (const l of lines) {
    cur += l.endsWith('\\') ? `${l.slice(0, -1)} ` : l;
    if (!l.endsWith('\\')) {
      if (cur.trim() !== '') joined.push(cur.trim());
      cur = '';
    }
  }
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of joined) {
    const [, op = '', args = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    const ins = { op: op.toUpperCase(), args };
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: args, ...(m?.[3] === undefined ? {} : { name: m[3] }), steps: [] });
    } else if (stages.length === 0) globalArgs.push(ins);
    else stages.at(-1)?.steps.push(ins);
  }
  return { globalArgs, stages };
}

const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const { globalArgs, stages } = readDockerfile(dockerfile);
const build = stages.find((s) => s.name === 'build');
const final = stages.at(-1);

describe('Dockerfile (hadolint-style rules)', () => {
  it('builds FROM a pinned Node 24 tag, never latest (DL3006, DL3007)', () => {
    const image = /^NODE_IMAGE=(\S+)$/.exec(globalArgs.find((a) => a.op === 'ARG' && a.args.startsWith('NODE_IMAGE='))?.args ?? '')?.[1];
    expect(image).toMatch(/^node:24(\.\d+)*-bookworm-slim$/);
    for (const s of stages) expect(s.from).toMatch(/\$\{NODE_IMAGE\}/);
  });

  it('runs as a non-root user in the final stage (DL3002), with exec-form ENTRYPOINT and CMD (DL3025)', () => {
    const users = final?.steps.filter((i) => i.op === 'USER') ?? [];
    expect(users.at(-1)?.args).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    for (const op of ['ENTRYPOINT', 'CMD']) {
      const ins = final?.steps.filter((i) => i.op === op) ?? [];
      expect(ins, op).toHaveLength(1);
      expect(() => JSON.parse(ins[0]?.args ?? ''), op).not.toThrow();
    }
  });

  it('uses COPY not ADD (DL3020), absolute WORKDIRs (DL3000), no cd in RUN (DL3003), npm ci not npm install (DL3016)', () => {
    for (const s of stages) {
      for (const i of s.steps) {
        expect(i.op).not.toBe('ADD');
        if (i.op === 'WORKDIR') expect(i.args).toMatch(/^\//);
        if (i.op === 'RUN') {
          expect(i.args).not.toMatch(/(^|&&|;)\s*cd\s/);
          expect(i.args).not.toMatch(/npm (install|i)\b/);
          // A pipe would hide a failure of its left side without pipefail (DL4006).
          expect(i.args.replace(/\|\|/g, '')).not.toContain('|');
        }
      }
    }
  });
});

describe('Dockerfile for docker buildx --platform linux/amd64,linux/arm64', () => {
  it('compiles on the build platform and copies into the target platform, running nothing there', () => {
    expect(build?.from).toMatch(/^--platform=\$BUILDPLATFORM /);
    expect(final?.from).not.toMatch(/--platform/);
    expect(final?.steps.filter((i) => i.op === 'RUN')).toEqual([]);
    // A native addon compiled for the build platform would not load on the other architecture.
    expect(build?.steps.filter((i) => i.op === 'RUN').at(-1)?.args).toContain("find node_modules -name '*.node'");
  });

  it('copies every directory tsconfig.build.json compiles into the build stage', () => {
    const include = (JSON.parse(readFileSync(path.join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
    const copied = build?.steps.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/)[0]) ?? [];
    expect([...include].sort()).toEqual(copied.filter((c) => include.includes(c ?? '')).sort());
  });

  it('starts node with the flags only the command line can set: a 1 MiB semi-space, optimising compiles on the main thread, a 20 MiB first old generation', () => {
    const [node, ...flags] = JSON.parse(final?.steps.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    expect(node).toBe('node');
    // bin/ sets each command's other V8 flags; these would come too late there (docs/benchmarks.md, "Sidecar footprint", "Webhook footprint").
    expect(flags).toEqual(['--max-semi-space-size=1', '--no-concurrent-recompilation', '--initial-old-space-size=20', '/app/bin/kubevirt-vhostuser.js']);
    // The node the project runs on takes each of them (a flag it does not know stops it with "bad option").
    const run = spawnSync(process.execPath, [...flags.slice(0, -1), '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
    expect([run.status, run.stdout, run.stderr]).toEqual([0, 'ok', '']);
  });

  it('is the image the chart runs: its default command is the sidecar, the chart passes `webhook`', () => {
    const values = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as { image: { repository: string } };
    expect(values.image.repository).toBe('ghcr.io/kubevirt-vhostuser/kubevirt-vhostuser');
    expect(JSON.parse(final?.steps.find((i) => i.op === 'CMD')?.args ?? '[]')).toEqual(['hook-sidecar']);
  });
});

describe("the final stage's /app, assembled from what the build stage compiles", () => {
  let app: string;
  beforeAll(async () => {
    if (!existsSync(path.join(repoRoot, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
    app = await mkdtemp(path.join(tmpdir(), 'image-app-'));
    // dist/ as the build stage's tsc writes it: only the compiled directories it copied.
    const compiled = (build?.steps.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/)[0] ?? '') ?? []).filter((src) =>
      existsSync(path.join(repoRoot, 'dist', src)),
    );
    // tsc writes .js and .d.ts; a bundle (.mjs) only when the build stage runs the bundler.
    const bundles = build?.steps.some((i) => i.op === 'RUN' && i.args.includes('bundle')) ?? false;
    const filter = (f: string) => bundles || !f.endsWith('.mjs');
    for (const src of compiled) await cp(path.join(repoRoot, 'dist', src), path.join(app, 'dist', src), { recursive: true, filter });
    // The final stage's own COPYs from the context.
    for (const i of final?.steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from')) ?? []) {
      const [src = ''] = i.args.split(/\s+/);
      await cp(path.join(repoRoot, src), path.join(app, src), { recursive: true });
    }
    await cp(path.join(repoRoot, 'package.json'), path.join(app, 'package.json'));
    await symlink(path.join(repoRoot, 'node_modules'), path.join(app, 'node_modules'));
  });
  afterAll(() => rm(app, { recursive: true, force: true }));

  const entry = () => JSON.parse(final?.steps.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
  /** The ENTRYPOINT with /app/ mapped to the assembled directory, run with `args`. */
  const image = (args: string[]) => {
    const [, ...rest] = entry();
    return run(process.execPath, [...rest.map((a) => a.replace(/^\/app\//, `${app}/`)), ...args], { cwd: app });
  };

  it.each([['--version'], ['webhook', '--help'], ['hook-sidecar', '--help'], ['mutate', '--help'], ['convert', '--help']])('runs `%s`', async (...args) => {
    const { stdout } = await image(args);
    expect(stdout.length).toBeGreaterThan(0);
  });
});
