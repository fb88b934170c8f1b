import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { convertCommand } from '../../converter/src/cli.js';
import { formatDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { caseNames, casesDir, loadCaseSettings, repoRoot } from './case-files.js';
import { makeVolumeDir, publishAnnotations } from './kubelet-volume.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the subcommand in-process, capturing what it writes. */
async function runCli(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    const code = await convertCommand.run(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const caseArgs = (name: string): string[] => {
  const dir = join(casesDir, name);
  const domain = join(dir, 'domain.xml');
  const allowed = (loadCaseSettings(name)?.allowedSocketDirs ?? []).flatMap((d) => ['--allow-socket-dir', d]);
  // The fixture files are complete: read them once instead of waiting for a CNI.
  return ['--podinfo', dir, '--vmi', join(dir, 'vmi.yaml'), '--wait', '0', ...(existsSync(domain) ? ['--domain', domain] : []), ...allowed];
};

/** A failure: a non-zero exit, nothing on stdout, one `error:` line on stderr. */
function expectOneErrorLine(run: Run, code: number): string {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^error: [^\n]+\n$/);
  return run.stderr.trimEnd();
}

describe('kubevirt-vhostuser convert', () => {
  it('prints its usage with --help', async () => {
    const run = await runCli('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: kubevirt-vhostuser convert --vmi <file> [--podinfo <path>] [options]');
    // Generated from the option table the parser uses: every flag it takes is listed.
    for (const flag of ['--podinfo', '--vmi', '--domain', '--socket-dir', '--wait', '--binding-name', '--allow-socket-dir', '--cni-socket-paths', '--kubevirt-network-info', '-h, --help']) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout).toContain('Exit codes: 0 success, 1 bad input');
    expect(run.stderr).toBe('');
  });

  it.each(caseNames('golden').filter((n) => n !== 'late-annotations'))('prints the golden output of case %s', async (name) => {
    const run = await runCli(...caseArgs(name));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(readFileSync(join(casesDir, name, 'expected.xml'), 'utf8'));
  });

  it('joins bare socket names to --socket-dir', async () => {
    const run = await runCli(...caseArgs('bare-socket-name'), '--socket-dir', '/run/vhost', '--cni-socket-paths');
    expect(run.stdout).toContain("path='/run/vhost/2ea1931c-2935-net1'");
    // By default QEMU gets the stable name in that directory, which the CNI's name links to.
    expect((await runCli(...caseArgs('bare-socket-name'), '--socket-dir', '/run/vhost')).stdout).toContain("path='/run/vhost/vu-70e862d9481'");
    // Where the directory exists (in a pod), the CLI makes that link as the sidecar does.
    const shared = await mkdtemp(join(tmpdir(), 'kvvu-cli-shared-'));
    try {
      expect((await runCli(...caseArgs('bare-socket-name'), '--socket-dir', shared)).code).toBe(0);
      expect(await readlink(join(shared, '2ea1931c-2935-net1'))).toBe('vu-70e862d9481');
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });

  it('confines socket paths to --socket-dir plus --allow-socket-dir, and refuses a bad one as usage', async () => {
    const args = ['--podinfo', join(casesDir, 'absolute-socketfile'), '--vmi', join(casesDir, 'absolute-socketfile/vmi.yaml')];
    expect(expectOneErrorLine(await runCli(...args), 1)).toMatch(/^error: E_SOCKET_PATH: interface 'vhost0': socket path "\/var\/lib\/nimbess\/cni\/[^"]+" from userspace\/configuration-data is outside the allowed socket directories \/var\/lib\/cni\/usrcni\/ /);
    expect((await runCli(...args, '--allow-socket-dir', '/var/lib/nimbess/cni')).code).toBe(0);
    expect(expectOneErrorLine(await runCli(...args, '--allow-socket-dir', 'cni'), 2)).toBe('error: E_USAGE: --allow-socket-dir "cni" is not an absolute path');
  });

  it('lets kubevirt.io/network-info outrank the CNI annotations only with --kubevirt-network-info', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvvu-cli-'));
    try {
      const status = JSON.stringify([{ name: 'vms/nad-blue', interface: 'pod16477688c0e' }]);
      const data = JSON.stringify([{ ifName: 'pod16477688c0e', config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile: 'cni-sock' } } }]);
      const info = JSON.stringify({ interfaces: [{ network: 'blue', deviceInfo: { type: 'vhost-user', 'vhost-user': { mode: 'server', path: '/var/lib/cni/usrcni/kubevirt-sock' } } }] });
      await writeFile(join(dir, 'annotations'), formatDownwardApiFile({ 'k8s.v1.cni.cncf.io/network-status': status, 'userspace/configuration-data': data, 'kubevirt.io/network-info': info }));
      const vmi = { kind: 'VirtualMachineInstance', metadata: { name: 'vm', namespace: 'vms' }, spec: { domain: { devices: { interfaces: [{ name: 'blue', vhostuser: {} }] } }, networks: [{ name: 'blue', multus: { networkName: 'nad-blue' } }] } };
      await writeFile(join(dir, 'vmi.json'), JSON.stringify(vmi));
      const args = ['--podinfo', dir, '--vmi', join(dir, 'vmi.json'), '--cni-socket-paths'];
      expect((await runCli(...args)).stdout).toContain("path='/var/lib/cni/usrcni/cni-sock'");
      expect((await runCli(...args, '--kubevirt-network-info')).stdout).toContain("path='/var/lib/cni/usrcni/kubevirt-sock'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('treats the --binding-name bindings as vhost-user, and only those', async () => {
    const dir = join(casesDir, 'ordinal-on-new-kubevirt');
    const args = ['--podinfo', join(dir, 'annotations'), '--vmi', join(dir, 'vmi.yaml')];
    const none = await runCli(...args, '--binding-name', 'dpdk');
    expect([none.code, none.stdout]).toEqual([0, '']);
    // Nothing to write is said, not left to be guessed from an empty output.
    expect(none.stderr).toBe(`warning: ${join(dir, 'vmi.yaml')}: no interface is vhost-user (vhostuser: {}, or binding "dpdk"); nothing to write\n`);
    expect((await runCli(...args, '--binding-name', 'dpdk', '--binding-name', 'vhostuser')).stdout).toContain("<alias name='ua-vhost-user-net-1'/>");
  });

  it('pins its one-line errors', async () => {
    const syntaxDir = join(casesDir, 'error-podinfo-syntax');
    const lines = [
      expectOneErrorLine(await runCli('--podinfo', 'p'), 2),
      expectOneErrorLine(await runCli(...caseArgs('multiqueue'), '--frobnicate'), 2),
      expectOneErrorLine(await runCli(...caseArgs('multiqueue'), '--wait', 'soon'), 2),
      expectOneErrorLine(await runCli('--podinfo', casesDir, '--vmi', join(casesDir, 'missing.yaml')), 1),
      expectOneErrorLine(await runCli(...caseArgs('multiqueue'), '--socket-dir', 'relative/dir'), 2),
      expectOneErrorLine(await runCli('--podinfo', join(casesDir, 'nowhere'), '--vmi', join(casesDir, 'multiqueue/vmi.yaml'), '--wait', '0'), 1),
      expectOneErrorLine(await runCli('--podinfo', syntaxDir, '--vmi', join(syntaxDir, 'vmi.yaml'), '--wait', '0'), 1),
      expectOneErrorLine(await runCli(...caseArgs('error-socket-not-found')), 1),
      expectOneErrorLine(await runCli('--podinfo', join(casesDir, 'multiqueue'), '--vmi', join(casesDir, 'multiqueue/annotations')), 1),
      expectOneErrorLine(await runCli('--podinfo', join(casesDir, 'multiqueue'), '--vmi', join(repoRoot, 'fixtures/pods/launcher-v1-binding.yaml')), 1),
    ];
    expect(lines.map((l) => l.replaceAll(repoRoot, '<repo>').replace(/ \(hint:.*\)$/, ''))).toMatchInlineSnapshot(`
      [
        "error: E_USAGE: missing --vmi <file> (see --help)",
        "error: E_USAGE: Unknown option '--frobnicate' (see --help)",
        "error: E_USAGE: --wait "soon": expected a number of seconds >= 0",
        "error: E_INPUT: cannot read VMI file <repo>/fixtures/cases/missing.yaml: no such file or directory",
        "error: E_CONFIG: invalid converter settings: socketDir: is not an absolute path",
        "error: E_PODINFO_READ: cannot read <repo>/fixtures/cases/nowhere: no such file or directory",
        "error: E_PODINFO_SYNTAX: <repo>/fixtures/cases/error-podinfo-syntax/annotations:2: value of kubevirt.io/domain: expected an opening double quote at column 20",
        "error: E_SOCKET_NOT_FOUND: interface 'sriov-a': no vhost-user socket for pod interface net1 (NAD default/sriov-net-a): device-info is type 'pci', no userspace/configuration-data entry with ifName net1",
        "error: E_VMI_INVALID: <repo>/fixtures/cases/multiqueue/annotations: not YAML or JSON (Implicit keys need to be on a single line at line 1, column 1:)",
        "error: E_VMI_INVALID: <repo>/fixtures/pods/launcher-v1-binding.yaml: this is a Pod; --vmi takes the VirtualMachineInstance (kubectl get vmi <name> -o yaml), and the pod's annotations go to --podinfo",
      ]
    `);
  });

  it('rejects a broken domain with one error line', async () => {
    const dir = join(casesDir, 'multiqueue');
    const line = expectOneErrorLine(await runCli(...caseArgs('multiqueue'), '--domain', join(dir, 'vmi.yaml')), 1);
    expect(line).toMatch(/^error: E_DOMAIN_XML: /);
  });
});

describe('kubevirt-vhostuser convert --wait', () => {
  const volumes: string[] = [];
  afterAll(async () => {
    await Promise.all(volumes.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('waits for late annotations, then prints the domain', async () => {
    const dir = await makeVolumeDir();
    volumes.push(dir);
    const late = join(casesDir, 'late-annotations');
    await publishAnnotations(dir, readFileSync(join(late, 'annotations.initial'), 'utf8'));
    setTimeout(() => void publishAnnotations(dir, readFileSync(join(late, 'annotations'), 'utf8')), 50);
    const run = await runCli('--podinfo', dir, '--vmi', join(late, 'vmi.yaml'), '--domain', join(late, 'domain.xml'), '--wait', '20');
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(readFileSync(join(late, 'expected.xml'), 'utf8'));
  });

  it('exits 1 with E_TIMEOUT when they do not come in time', async () => {
    const dir = await makeVolumeDir();
    volumes.push(dir);
    const late = join(casesDir, 'late-annotations');
    await publishAnnotations(dir, readFileSync(join(late, 'annotations.initial'), 'utf8'));
    const line = expectOneErrorLine(await runCli('--podinfo', dir, '--vmi', join(late, 'vmi.yaml'), '--wait', '0.2'), 1);
    expect(line).toMatch(/^error: E_TIMEOUT: .*still missing after 0\.2s: interface 'vhost-user-net-1': /);
  });
});

describe('the installed command (dist/, as `npm run sample` runs it)', () => {
  it('prints the rewritten domain of the sample case and exits 0', async () => {
    const bin = join(repoRoot, 'bin/kubevirt-vhostuser.js');
    expect(existsSync(join(repoRoot, 'dist/cli/main.js')), 'run `npm run build` first').toBe(true);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const sample = pkg.scripts['sample'] ?? '';
    expect(sample.startsWith('node bin/kubevirt-vhostuser.js convert ')).toBe(true);
    const args = sample.split(' ').slice(2);
    const run = await new Promise<Run>((resolve) => {
      execFile(process.execPath, [bin, ...args], { cwd: repoRoot }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
      });
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(readFileSync(join(casesDir, 'hashed-deviceinfo/expected.xml'), 'utf8'));
  });
});
