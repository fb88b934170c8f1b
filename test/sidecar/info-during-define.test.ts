// The real gRPC sidecar on a unix socket keeps answering Info while an OnDefineDomain of a 2 MB
// domain waits for pod annotations that are not complete yet, as virt-launcher may ask for Info
// (a reconnect, a second hook point) at any time. Checked by order and count, never by time.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatDownwardApiFile, parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import type { RewriteRequest, RewrittenDomain } from '../../sidecar/src/on-define-domain.js';
import { defineRequest, domainFixture, resultXml, sidecarCase, startTestSidecar, type TestSidecar } from './helpers.js';

const { podinfo, vmiJson } = sidecarCase('binding-hashed');
const DOMAIN_BYTES = 2 * 1024 * 1024;

/** KubeVirt's hook domain grown past 2 MB with disks of the kind KubeVirt writes, each its own alias. */
function bigDomain(): string {
  const xml = domainFixture('kubevirt-hooks');
  const at = xml.indexOf('</devices>');
  let extra = '';
  for (let i = 0; xml.length + extra.length < DOMAIN_BYTES; i++) {
    extra +=
      `    <disk device='disk' type='file'>\n      <source file='/var/run/kubevirt-private/vmi-disks/data${i}/disk.img'/>\n` +
      `      <target bus='virtio' dev='vdx${i}'/>\n      <driver name='qemu' type='raw' cache='none'/>\n      <alias name='ua-data${i}'/>\n    </disk>\n`;
  }
  return `${xml.slice(0, at)}${extra}  ${xml.slice(at)}`;
}

let t: TestSidecar | undefined;
let dir: string | undefined;
afterEach(async () => {
  await t?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  t = dir = undefined;
});

describe('hook sidecar: Info during a large OnDefineDomain', () => {
  it('answers every Info while a 2 MB OnDefineDomain waits for its annotations, then finishes the define', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvh-podinfo-'));
    const full = parseDownwardApiFile(readFileSync(join(podinfo, 'annotations'), 'utf8'));
    const partial = new Map([...full].filter(([k]) => k !== 'k8s.v1.cni.cncf.io/network-status'));
    await writeFile(join(dir, 'annotations'), formatDownwardApiFile(partial));

    // The real converter, with a signal once the call has reached it (the request is decoded).
    const real = converterRewrite(dir, { links: 'where-visible' });
    let reached!: () => void;
    const inConverter = new Promise<void>((resolve) => (reached = resolve));
    const rewrite = (req: RewriteRequest): Promise<RewrittenDomain> => {
      reached();
      return real(req);
    };
    t = await startTestSidecar({ rewrite, waitMs: 20_000 });

    const domain = bigDomain();
    expect(domain.length).toBeGreaterThanOrEqual(DOMAIN_BYTES);
    const order: string[] = [];
    const define = t.onDefineDomain(defineRequest(domain, vmiJson)).then((res) => {
      order.push('define');
      return res;
    });
    await inConverter;

    // One Info after another: each answer comes while the define is still waiting.
    for (let i = 0; i < 20; i++) {
      const info = await t.info.call('Info');
      expect(info).toMatchObject({ name: 'kubevirt-vhostuser' });
      order.push('info');
    }
    expect(order).toEqual(Array.from({ length: 20 }, () => 'info'));

    // The CNI catches up: the define completes with our interfaces in the 2 MB domain.
    await writeFile(join(dir, 'annotations'), formatDownwardApiFile(full));
    const out = resultXml(await define);
    expect(out).toContain("<alias name='ua-dpdk0'/>");
    expect(out).toContain("<alias name='ua-dpdk1'/>");
    expect(out.length).toBeGreaterThan(domain.length);
    expect(order.at(-1)).toBe('define');
    // And Info still answers afterwards.
    expect(await t.info.call('Info')).toMatchObject({ name: 'kubevirt-vhostuser' });
  });
});
