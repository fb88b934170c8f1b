// runMutate in this process: how `mutate` reads its files (one YAML or JSON object each) and
// what it answers. mutate-cli.test.ts runs the same command as a real process.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runMutate } from '../../webhook/src/mutate-cli.js';
import { loadApiObject, loadPod, REPO_ROOT, type Json } from './fixtures.js';

const fixture = (name: string) => join(REPO_ROOT, 'fixtures/pods', `${name}.yaml`);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mutate-run-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('runMutate', () => {
  it('answers the patch the webhook would give, and with --apply the pod it makes', async () => {
    const plain = await runMutate(['--pod', fixture('launcher-v1-binding')]);
    expect([plain.code, plain.stderr]).toEqual([0, '']);
    const ops = JSON.parse(plain.stdout) as fastJsonPatch.Operation[];
    expect(ops.map((o) => o.path)).toContain('/spec/containers/1/volumeMounts/-');
    const applied = await runMutate(['--pod', fixture('launcher-v1-binding'), '--apply']);
    expect(JSON.parse(applied.stdout)).toEqual(fastJsonPatch.applyPatch(loadPod('launcher-v1-binding'), ops, true, false).newDocument);
  });

  it('notes why a pod gets no patch, and takes the evidence from --vmi', async () => {
    const pod = fixture('launcher-v0.53-vhostuser');
    expect(await runMutate(['--pod', pod])).toEqual({ stdout: '[]\n', stderr: 'note: no patch (no-vhostuser)\n', code: 0 });
    const vmi = await file('vmi.json', JSON.stringify(loadApiObject('vmi-vm-trex-1')));
    expect(JSON.parse((await runMutate(['--pod', pod, '--vmi', vmi])).stdout)).toHaveLength(7);
  });

  it('answers a denial as exit 1 with one error line', async () => {
    expect(await runMutate(['--pod', fixture('volume-conflict')])).toMatchObject({ stdout: '', code: 1, stderr: expect.stringMatching(/^error: E_VOLUME_CONFLICT: denied: pod tests\//) });
  });

  it.each<[string, string, string]>([
    ['two documents', 'a: 1\n---\nb: 2\n', 'expected exactly one YAML or JSON document'],
    ['no document', '', 'expected exactly one YAML or JSON document'],
    ['broken YAML', 'spec: [\n', 'Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1:'],
    ['a scalar', '42\n', 'not an object'],
    ['a list', '- 1\n', 'not an object'],
    ['another kind', stringify({ kind: 'Service', spec: {} }), 'kind "Service"; expected Pod'],
  ])('refuses a --pod file with %s (E_INPUT naming the file, the first line of the reason)', async (what, text, message) => {
    const path = await file(`${what.replaceAll(' ', '-')}.yaml`, text);
    await expect(runMutate(['--pod', path])).rejects.toMatchObject({ code: 'E_INPUT', message: `--pod ${path}: ${message}` });
  });

  it('refuses a pod the webhook could not read, naming the file and the field', async () => {
    const pod = loadPod('launcher-v1-binding') as { spec: Json };
    delete pod.spec['containers'];
    const path = await file('no-containers.json', JSON.stringify(pod));
    await expect(runMutate(['--pod', path])).rejects.toMatchObject({ code: 'E_REVIEW_INVALID', message: `--pod ${path}.spec.containers: Invalid input: expected array, received undefined` });
  });

  it('refuses a --vmi that is no VMI or VirtualMachine', async () => {
    const path = await file('pod-as-vmi.yaml', stringify(loadPod('launcher-v0.53-vhostuser')));
    await expect(runMutate(['--pod', fixture('launcher-v0.53-vhostuser'), '--vmi', path])).rejects.toMatchObject({
      code: 'E_INPUT',
      message: `--vmi ${path}: kind "Pod"; expected VirtualMachineInstance or VirtualMachine`,
    });
  });
});
