// The `mutate` command, run as the real CLI process: the offline decision for a pod file.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validatePod } from '../helpers/pod-schema.js';
import { REPO_ROOT, loadApiObject, loadPod, type Json } from './fixtures.js';

const BIN = join(REPO_ROOT, 'bin/kubevirt-vhostuser.js');
const pod = (name: string) => join(REPO_ROOT, 'fixtures/pods', `${name}.yaml`);
const api = (name: string) => join(REPO_ROOT, 'fixtures/admission-reviews/api', `${name}.yaml`);

beforeAll(() => {
  if (!existsSync(join(REPO_ROOT, 'dist/webhook/src/cli.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
});

function mutate(args: readonly string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'mutate', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('kubevirt-vhostuser mutate', () => {
  it('prints the JSON patch for a launcher pod with a binding sidecar', async () => {
    const r = await mutate(['--pod', pod('launcher-v1-binding')]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const ops = JSON.parse(r.stdout) as { op: string; path: string }[];
    expect(ops.map((o) => o.path)).toEqual([
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/containers/0/volumeMounts/-',
      '/spec/containers/0/volumeMounts/-',
      '/spec/containers/0/volumeMounts/-',
      '/spec/containers/1/volumeMounts/-',
      '/spec/containers/1/volumeMounts/-',
      '/metadata/annotations/kubevirt-vhostuser.io~1mutation',
    ]);
  });

  it('takes --sidecar-socket-dir and --ovs-run-dir-writable like the webhook', async () => {
    const r = await mutate(['--pod', pod('launcher-v1-binding'), '--apply', '--sidecar-socket-dir', '/run/vhost', '--ovs-run-dir-writable']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const patched = JSON.parse(r.stdout) as { spec: { containers: { name: string; env?: Json[]; volumeMounts?: Json[] }[] } };
    validatePod(patched);
    const [compute, sidecar] = patched.spec.containers;
    expect(sidecar?.env?.at(-1)).toEqual({ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/run/vhost' });
    expect(compute?.volumeMounts?.find((m) => m['name'] === 'ovs-run-dir')).toEqual({ name: 'ovs-run-dir', mountPath: '/var/run/openvswitch/' });
  });

  it('prints the patched pod with --apply, valid against the Pod schema', async () => {
    const r = await mutate(['--pod', pod('no-volumes'), '--apply']);
    expect(r.code).toBe(0);
    const patched = JSON.parse(r.stdout) as { spec: { volumes: { name: string }[] } };
    validatePod(patched);
    expect(patched.spec.volumes.map((v) => v.name)).toEqual(['shared-dir', 'ovs-run-dir', 'podinfo']);
  });

  it('uses the VMI given with --vmi (a VirtualMachine works too) for a pod with no evidence of its own', async () => {
    const without = await mutate(['--pod', pod('launcher-v0.53-vhostuser')]);
    expect([without.stdout.trim(), without.stderr]).toEqual(['[]', 'note: no patch (no-vhostuser)\n']);
    const withVmi = await mutate(['--pod', pod('launcher-v0.53-vhostuser'), '--vmi', api('vmi-vm-trex-1')]);
    expect(JSON.parse(withVmi.stdout)).toHaveLength(7);
  });

  it('takes a VirtualMachine for --vmi, using its template', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mutate-cli-'));
    try {
      // The v1 pod without its binding sidecar env: only the VM's template says vhost-user.
      const p = loadPod('launcher-v1-binding') as { spec: { containers: { env?: unknown }[] } };
      delete p.spec.containers[1]?.env;
      const vmi = loadApiObject('vmi-vhostuser-vm');
      const vm = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: vmi.metadata, spec: { template: { spec: vmi['spec'] } } };
      await writeFile(join(dir, 'pod.json'), JSON.stringify(p));
      await writeFile(join(dir, 'vm.json'), JSON.stringify(vm));
      expect((await mutate(['--pod', join(dir, 'pod.json')])).stdout.trim()).toBe('[]');
      const r = await mutate(['--pod', join(dir, 'pod.json'), '--vmi', join(dir, 'vm.json')]);
      expect(JSON.parse(r.stdout)).toHaveLength(7);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the pod from stdin and warns about a forged launcher on stderr', async () => {
    const r = await mutate(['--pod', '-', '--user', 'system:serviceaccount:tests:default'], await readFile(pod('launcher-v1-binding'), 'utf8'));
    expect(r.stdout.trim()).toBe('[]');
    expect(r.stderr).toMatch(/^warning: kubevirt-vhostuser: pod tests\/virt-launcher-vhostuser-vm-: pod has label kubevirt.io=virt-launcher but was created by "system:serviceaccount:tests:default"/);
  });

  it.each([
    [['--pod', pod('volume-conflict')], 1, /^error: E_VOLUME_CONFLICT: denied: pod tests\/virt-launcher-vhostuser-vm-: volume "shared-dir" already exists with a configMap source/],
    [['--pod', pod('launcher-v1-binding'), '--user', 'x', '--deny-forged'], 1, /^error: E_FORGED_LAUNCHER: denied: .*\(--deny-forged\)$/],
    [[], 2, /^error: E_CONFIG_INVALID: --pod: --pod FILE is required \(got undefined\)$/],
    [['--pod', '/nonexistent.yaml'], 1, /^error: E_INPUT: --pod \/nonexistent.yaml: ENOENT/],
    [['--pod', api('vmi-vm-trex-1')], 1, /^error: E_INPUT: --pod .*vmi-vm-trex-1.yaml: kind "VirtualMachineInstance"; expected Pod$/],
    [['--pod', pod('launcher-v0.53-vhostuser'), '--vmi', api('vmi-vhostuser-vm')], 1, /^error: E_INPUT: --vmi .*: VMI "vhostuser-vm" is not the pod's owner "vm-trex-1"$/],
    [['--pod', pod('launcher-v1-binding'), '--shared-dir-volume', 'A'], 2, /^error: E_CONFIG_INVALID: --shared-dir-volume: expected a DNS-1123 label/],
  ])('%j exits %i with one error line', async (args, code, message) => {
    const r = await mutate(args);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([expect.stringMatching(message)]);
  });

  it('explains itself with --help', async () => {
    const r = await mutate(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: kubevirt-vhostuser mutate --pod FILE');
    expect(r.stdout).toContain('--podinfo-in-sidecars <true|false>');
  });
});
