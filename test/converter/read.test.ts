import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConverterError } from '../../converter/src/errors.js';
import { readPodAnnotationsFile, waitForPodAnnotations, type MissingEntry } from '../../converter/src/podnetinfo/read.js';
import { rejectionOf } from './expect-error.js';
import { makeVolumeDir, publishAnnotations } from './kubelet-volume.js';

const dirs: string[] = [];
async function volume(): Promise<string> {
  const dir = await makeVolumeDir();
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Missing until `key` is present. */
const needs =
  (key: string) =>
  (annotations: ReadonlyMap<string, string>): MissingEntry[] =>
    annotations.has(key) ? [] : [{ what: 'dpdk0', message: `interface 'dpdk0': no ${key}` }];


describe("KubeVirt's network-info file (/etc/podinfo/network-info, raw JSON)", () => {
  // The value KubeVirt's downward API writes for a binding with `downwardAPI: device-info`:
  // kubevirt/kubevirt pkg/network/pod/annotations/generator_test.go (fixtures/kubevirt/).
  const upstream = '{"interfaces":[{"network":"woo","deviceInfo":{"type":"pci","version":"1.0.0","pci":{"pci-address":"0000:65:00.4"}},"mac":"3a:17:d7:e5:0f:08"}]}';

  it('is read as the kubevirt.io/network-info annotation, by path or as the only file of its directory', async () => {
    const dir = await volume();
    await writeFile(join(dir, 'network-info'), upstream);
    for (const path of [join(dir, 'network-info'), dir]) {
      expect([...(await readPodAnnotationsFile(path))]).toEqual([['kubevirt.io/network-info', upstream]]);
    }
  });

  it('prefers the annotations file when a directory holds both', async () => {
    const dir = await volume();
    await writeFile(join(dir, 'network-info'), upstream);
    await writeFile(join(dir, 'annotations'), 'kubevirt.io/domain="vm1"');
    expect([...(await readPodAnnotationsFile(dir)).keys()]).toEqual(['kubevirt.io/domain']);
  });

  it('is empty while KubeVirt has not written the annotation yet, so a wait goes on', async () => {
    const dir = await volume();
    await writeFile(join(dir, 'network-info'), '');
    expect((await readPodAnnotationsFile(join(dir, 'network-info'))).size).toBe(0);
    const later = waitForPodAnnotations(join(dir, 'network-info'), { timeoutMs: 5_000, pollMs: 20, missing: needs('kubevirt.io/network-info') });
    setTimeout(() => void writeFile(join(dir, 'network-info'), upstream), 50);
    expect((await later).get('kubevirt.io/network-info')).toBe(upstream);
  });
});

describe('readPodAnnotationsFile', () => {
  it('reads <dir>/annotations through kubelet symlinks, or a file path', async () => {
    const dir = await volume();
    await publishAnnotations(dir, { 'kubevirt.io/domain': 'vm1' });
    expect((await readPodAnnotationsFile(dir)).get('kubevirt.io/domain')).toBe('vm1');
    expect((await readPodAnnotationsFile(join(dir, 'annotations'))).get('kubevirt.io/domain')).toBe('vm1');
  });

  it('fails with E_PODINFO_READ naming the path when it does not exist', async () => {
    const dir = await volume();
    const missingDir = await rejectionOf(readPodAnnotationsFile(join(dir, 'nope')));
    expect([missingDir.code, missingDir.details.file]).toEqual(['E_PODINFO_READ', join(dir, 'nope')]);
    const noFile = await rejectionOf(readPodAnnotationsFile(dir));
    expect(noFile.message).toContain(`cannot read ${join(dir, 'annotations')}: no such file or directory`);
  });

  it('fails with E_PODINFO_SYNTAX naming the file and line', async () => {
    const dir = await volume();
    await writeFile(join(dir, 'annotations'), 'a="1"\nb=2');
    const err = await rejectionOf(readPodAnnotationsFile(dir));
    expect(err.code).toBe('E_PODINFO_SYNTAX');
    expect(err.details).toMatchObject({ file: join(dir, 'annotations'), line: 2 });
  });
});

describe('waitForPodAnnotations', () => {
  it('returns at once when nothing is missing', async () => {
    const dir = await volume();
    await publishAnnotations(dir, { want: 'x' });
    const map = await waitForPodAnnotations(dir, { timeoutMs: 0, pollMs: 50, missing: needs('want') });
    expect(map.get('want')).toBe('x');
  });

  it('sees an atomic kubelet update made while it waits', async () => {
    const dir = await volume();
    await publishAnnotations(dir, { other: '1' });
    const waiting = waitForPodAnnotations(dir, { timeoutMs: 20_000, pollMs: 5_000, missing: needs('want') });
    setTimeout(() => void publishAnnotations(dir, { other: '1', want: 'late' }), 50);
    expect((await waiting).get('want')).toBe('late');
  });

  it('waits for the annotations file itself to appear', async () => {
    const dir = await volume();
    const waiting = waitForPodAnnotations(dir, { timeoutMs: 20_000, pollMs: 100, missing: needs('want') });
    setTimeout(() => void publishAnnotations(dir, { want: 'first' }), 50);
    expect((await waiting).get('want')).toBe('first');
  });

  it('finds a change by polling when the directory gives no event', async () => {
    // The watched directory is the file's parent; writing inside a subdirectory raises no event there.
    const dir = await volume();
    await mkdir(join(dir, 'sub'));
    const file = join(dir, 'sub', 'annotations');
    await writeFile(file, 'other="1"');
    const waiting = waitForPodAnnotations(file, { timeoutMs: 20_000, pollMs: 20, missing: needs('want') });
    setTimeout(() => void writeFile(file, 'other="1"\nwant="polled"'), 50);
    expect((await waiting).get('want')).toBe('polled');
  });

  it('gives up with E_TIMEOUT listing what is still missing', async () => {
    const dir = await volume();
    await publishAnnotations(dir, { other: '1' });
    const err = await rejectionOf(waitForPodAnnotations(dir, { timeoutMs: 150, pollMs: 30, missing: needs('want') }));
    expect(err.code).toBe('E_TIMEOUT');
    expect(err.details.missing).toEqual(['dpdk0']);
    expect(err.message.replace(dir, '<dir>')).toMatchInlineSnapshot(`"<dir>/annotations: still missing after 0.15s: interface 'dpdk0': no want (hint: the CNI writes these annotations during pod network setup; check Multus and the CNI logs, or wait longer)"`);
  });

  it('stops at once on a problem waiting cannot fix', async () => {
    const dir = await volume();
    await publishAnnotations(dir, { other: '1' });
    const broken = () => {
      throw new ConverterError('E_ANNOTATION_JSON', 'annotation x: not valid JSON');
    };
    const err = await rejectionOf(waitForPodAnnotations(dir, { timeoutMs: 60_000, pollMs: 30_000, missing: broken }));
    expect(err.code).toBe('E_ANNOTATION_JSON');
  });
});
