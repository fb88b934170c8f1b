// Every command block of the README and docs/*.md (markdown.ts says how blocks are marked): the
// ones that need no cluster run as written, from the repository root, in a shell whose PATH is a
// user's after the install (no node_modules/.bin); every block parses as shell; every
// `kubevirt-vhostuser`, kubectl, oc and helm command names only flags its --help knows; YAML
// blocks parse, and a `part-of` block is part of the file it names. Blocks added later are
// picked up by the same rules.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { blocks, commands, fillPlaceholders, markdownFiles, ROOT, SHELL, type Block } from './markdown.js';

const ALL = markdownFiles().flatMap(blocks);
const SHELL_BLOCKS = ALL.filter((b) => SHELL.has(b.lang));
const KNOWN_MARKERS = new Set(['cluster', 'not-run', 'part-of']);
const where = (b: Block) => `${b.file}:${b.line}`;

/** PATH as a user's shell has it after the install: without any node_modules/.bin npm added. */
const USER_PATH = (process.env['PATH'] ?? '').split(delimiter).filter((d) => !d.includes('node_modules')).join(delimiter);
const BIN = join(ROOT, 'bin/kubevirt-vhostuser.js');
const TOOLS: Record<string, string> = { kubectl: join(ROOT, '.cache/tools/kubectl/kubectl'), helm: join(ROOT, '.cache/tools/helm/helm') };

const helpCache = new Map<string, string>();
function help(cmd: string, args: readonly string[]): string {
  const key = [cmd, ...args].join(' ');
  let text = helpCache.get(key);
  if (text === undefined) {
    const r = spawnSync(cmd, [...args, '--help'], { encoding: 'utf8', timeout: 20_000 });
    text = `${r.stdout}${r.stderr}`;
    helpCache.set(key, text);
  }
  return text;
}

function kubevirtVhostuserCommands(): string[] {
  const usage = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  return [...usage.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1] ?? '');
}
const SUBCOMMANDS = kubevirtVhostuserCommands();

/** What is wrong with one command's flags, or undefined. */
function flagProblems(words: readonly string[]): string[] {
  const problems: string[] = [];
  const flags = (rest: readonly string[]) => rest.map((w) => w.replace(/^\[+/, '')).filter((w) => /^--[a-z]/.test(w)).map((w) => w.replace(/[=\]].*$/, ''));
  // The command itself, not a release or namespace of the same name: first word, after npx, or the entry script.
  const at = words.findIndex((w, i) => (w === 'kubevirt-vhostuser' && (i === 0 || words[i - 1] === 'npx')) || w.endsWith('kubevirt-vhostuser.js'));
  if (at >= 0) {
    const sub = words[at + 1];
    if (sub === undefined || sub.startsWith('-')) return problems;
    if (!SUBCOMMANDS.includes(sub)) return [`kubevirt-vhostuser has no command '${sub}'`];
    const text = help(process.execPath, [BIN, sub]);
    for (const f of flags(words.slice(at + 2))) if (!new RegExp(`${f}[ =<,]|${f}$`, 'm').test(text)) problems.push(`kubevirt-vhostuser ${sub}: ${f} is not in its --help`);
    return problems;
  }
  const tool = words[0] === 'oc' ? 'kubectl' : words[0];
  const bin = tool === undefined ? undefined : TOOLS[tool];
  if (bin === undefined) return problems;
  const verbs: string[] = [];
  for (const w of words.slice(1)) {
    if (w.startsWith('-') || verbs.length === (['rollout', 'config', 'set', 'create'].includes(verbs[0] ?? '') ? 2 : 1)) break;
    verbs.push(w);
  }
  const text = help(bin, verbs) + (tool === 'kubectl' ? help(bin, ['options']).replace(/^/, '') : '');
  for (const f of flags(words)) if (!new RegExp(`${f}[=\\s:,\\[]`).test(text)) problems.push(`${words[0]} ${verbs.join(' ')}: ${f} is not in its --help`);
  return problems;
}

describe('Markdown command blocks', () => {
  it('are found, and every marker is one of cluster, not-run <reason>, part-of <file>', () => {
    expect(SHELL_BLOCKS.length).toBeGreaterThan(20);
    for (const b of ALL.filter((x) => x.marker !== undefined)) {
      const m = b.marker ?? { kind: '', arg: '' };
      expect(KNOWN_MARKERS.has(m.kind), `${where(b)}: unknown doc-test marker '${m.kind}'`).toBe(true);
      if (m.kind === 'not-run') expect(m.arg, `${where(b)}: not-run needs a reason`).not.toBe('');
      if (m.kind === 'part-of') expect(existsSync(join(ROOT, m.arg)), `${where(b)}: part-of names ${m.arg}, which does not exist`).toBe(true);
    }
  });

  it.each(SHELL_BLOCKS.map((b) => [where(b), b] as const))('%s parses as shell', (_w, b) => {
    const r = spawnSync('bash', ['-n'], { input: fillPlaceholders(b.body), encoding: 'utf8' });
    expect(r.stderr, `${where(b)}:\n${b.body}`).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(ALL.filter((b) => SHELL.has(b.lang) || b.lang === 'text' || b.lang === '').map((b) => [where(b), b] as const))('%s names only flags the commands know', (_w, b) => {
    const problems = commands(fillPlaceholders(b.body)).flatMap(flagProblems);
    expect(problems, `${where(b)}:\n${b.body}`).toEqual([]);
  });

  it('the flag check catches an unknown command, an unknown flag and a kubectl or helm flag that does not exist', () => {
    const check = (text: string) => commands(fillPlaceholders(text)).flatMap(flagProblems);
    expect(check('npx kubevirt-vhostuser frobnicate --vmi x')).toEqual(["kubevirt-vhostuser has no command 'frobnicate'"]);
    expect(check('kubectl get vmi x -o json | kubectl exec -i <pod> -- node /app/bin/kubevirt-vhostuser.js doctor --vmi - --nope')).toEqual(['kubevirt-vhostuser doctor: --nope is not in its --help']);
    expect(check('kubevirt-vhostuser convert --vmi <file> [--no-such-flag]  # comment --ignored')).toEqual(['kubevirt-vhostuser convert: --no-such-flag is not in its --help']);
    expect(check('kubectl patch kubevirt kubevirt --patch-fil x.yaml')).toEqual(['kubectl patch: --patch-fil is not in its --help']);
    expect(check("helm upgrade r c -n ns --reuse-value --set 'a={b}'")).toEqual(['helm upgrade: --reuse-value is not in its --help']);
    expect(check("oc annotate --overwrite -n ns hco x a='[1]'")).toEqual([]);
  });

  const runnable = SHELL_BLOCKS.filter((b) => b.marker === undefined);
  it.each(runnable.map((b) => [where(b), b] as const))('%s runs as written (no cluster needed)', (_w, b) => {
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', b.body], { cwd: ROOT, env: { ...process.env, PATH: USER_PATH }, encoding: 'utf8', timeout: 120_000 });
    const hint = 'if it needs a cluster or minutes, mark it <!-- doc-test: cluster --> or <!-- doc-test: not-run <reason> -->; a usage synopsis goes in a ```text block';
    expect(r.status, `${where(b)} exited ${r.status}:\n${b.body}\n--- stderr:\n${r.stderr}\n(${hint})`).toBe(0);
  });

  it.each(ALL.filter((b) => b.lang === 'yaml').map((b) => [where(b), b] as const))('%s is valid YAML, and part of the file its marker names', (_w, b) => {
    const docs = parseAllDocuments(b.body);
    for (const d of Array.isArray(docs) ? docs : [docs]) expect(d.errors.map((e) => e.message), where(b)).toEqual([]);
    if (b.marker?.kind !== 'part-of') return;
    const part = (Array.isArray(docs) ? docs[0] : docs)?.toJS() as unknown;
    const whole = parseAllDocuments(readFileSync(join(ROOT, b.marker.arg), 'utf8')).map((d) => d.toJS() as unknown);
    expect(whole.some((w) => containsSomewhere(w, part)), `${where(b)} is not part of ${b.marker.arg}`).toBe(true);
  });
});

/** Whether `part` matches `whole` or one of its sub-trees (objects: every key of part, recursively; arrays: equal length). */
function containsSomewhere(whole: unknown, part: unknown): boolean {
  if (matches(whole, part)) return true;
  if (typeof whole !== 'object' || whole === null) return false;
  return Object.values(whole).some((v) => containsSomewhere(v, part));
}
function matches(whole: unknown, part: unknown): boolean {
  if (Array.isArray(part)) return Array.isArray(whole) && whole.length === part.length && part.every((p, i) => matches(whole[i], p));
  if (typeof part === 'object' && part !== null) {
    if (typeof whole !== 'object' || whole === null || Array.isArray(whole)) return false;
    return Object.entries(part).every(([k, v]) => matches((whole as Record<string, unknown>)[k], v));
  }
  return whole === part;
}

describe('the README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const [first] = blocks('README.md');
  const [sampleLine = '', testLine = ''] = (first?.body ?? '').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());

  it('starts with the sample and the test command; CI runs the test command as written', () => {
    expect(sampleLine).toBe('npm ci && npm run sample');
    expect(testLine).toBe('scripts/setup.sh && npm test');
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toContain(`\n${testLine}\n`);
  });

  it("its first command's install is only npm's: the sample needs no Debian package, and runs with a user's PATH", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['sample']).toMatch(/^node bin\/kubevirt-vhostuser\.js convert /);
    const r = spawnSync('npm', ['run', '--silent', 'sample'], { cwd: ROOT, env: { ...process.env, PATH: USER_PATH }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("<interface type='vhostuser'>");
  });

  it('has one Mermaid flow from kubectl apply to OVS connected, every edge between declared nodes', () => {
    const [flow, ...more] = blocks('README.md').filter((b) => b.lang === 'mermaid');
    expect(more).toEqual([]);
    const lines = (flow?.body ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
    expect(lines[0]).toBe('flowchart TD');
    const declared = new Set([...(flow?.body ?? '').matchAll(/(\w+)(?:\[|\{)"/g)].map((m) => m[1]));
    const edges = lines.slice(1).map((l) => /^(\w+)\b.*-->\s*(\w+)\b/.exec(l));
    expect(edges.every((e) => e !== null && declared.has(e[1]) && declared.has(e[2])), (flow?.body ?? '')).toBe(true);
    expect(flow?.body).toContain('kubectl apply');
    expect(lines.at(-1)).toMatch(/OVS connects/);
    expect(readme).toContain('```mermaid\nflowchart TD');
  });
});

describe('links in the README and docs/', () => {
  it.each(markdownFiles())('%s links only to files in this repository that exist', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((t) => !/^(https?:|mailto:|#)/.test(t));
    const missing = targets.map((t) => t.split('#')[0] ?? '').filter((t) => t !== '' && !existsSync(join(ROOT, dirname(file), t)));
    expect(missing).toEqual([]);
    // Files named in the text (`design.md`, say) must be in the repository too.
    const named = [...text.matchAll(/`([\w./-]+\.md)`/g)].map((m) => m[1] ?? '').filter((n) => !existsSync(join(ROOT, n)) && !existsSync(join(ROOT, dirname(file), n)) && !existsSync(join(ROOT, 'docs', n)));
    expect(named).toEqual([]);
  });
});
