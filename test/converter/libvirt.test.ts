import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedInterface } from '../../converter/src/model.js';
import { rewriteDomain } from '../../converter/src/xml/index.js';
import { dumpDomainXml, validateDomainXml, xpathString } from '../helpers/libvirt.js';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), 'utf8');
const samples = JSON.parse(fixture('domains/interfaces.json')) as Record<string, ResolvedInterface>;
// Without bootOrder: libvirt's samples set <os><boot dev>, which excludes per-device boot orders.
const ours = Object.values(samples).map(({ bootOrder: _boot, ...iface }) => iface);
const DOMAINS = ['kubevirt-x86_64', 'kubevirt-hooks', 'libvirt-net-vhostuser', 'libvirt-net-vhostuser-multiq', 'kubeovn-dpdk-vm', 'busy', 'numa'];
/** Domains libvirt's schema accepts as they are; KubeVirt's fail on an empty <sysinfo><bios>. */
const SCHEMA_VALID = new Set(['libvirt-net-vhostuser', 'libvirt-net-vhostuser-multiq', 'kubeovn-dpdk-vm', 'busy', 'numa']);

describe('validateDomainXml (the helper every domain test relies on)', () => {
  it('passes a domain from libvirt\'s own test suite (positive control)', async () => {
    const result = await validateDomainXml(fixture('domains/libvirt-net-vhostuser.xml'));
    expect(result, result.output).toMatchObject({ rng: true, parser: true });
  });

  it('fails a vhost-user source with a bogus mode in both checks (negative control)', async () => {
    const result = await validateDomainXml(fixture('domains/libvirt-net-vhostuser.xml').replace("mode='server'", "mode='bogus'"));
    expect(result).toMatchObject({ rng: false, parser: false });
    expect(result.output).toContain("Invalid value for attribute 'mode' in element 'source': 'bogus'");
  });

  it('tells the schema from the parser: a second <model> fails only the schema', async () => {
    const twice = fixture('domains/libvirt-net-vhostuser.xml').replace("<model type='virtio'/>", "<model type='virtio'/><model type='virtio'/>");
    expect(await validateDomainXml(twice)).toMatchObject({ rng: false, parser: true });
  });

  describe('without the tools on PATH', () => {
    let empty = '';
    beforeAll(async () => {
      empty = await mkdtemp(join(tmpdir(), 'kvvu-empty-path-'));
    });
    afterAll(async () => {
      await rm(empty, { recursive: true, force: true });
    });

    it('rejects instead of reporting the document invalid', async () => {
      await expect(validateDomainXml('<domain/>', { path: empty })).rejects.toThrow(/virt-xml-validate is not installed/);
      await expect(xpathString('<a/>', '/a', { path: empty })).rejects.toThrow(/xmllint is not installed/);
    });
  });
});

describe('rewritten domains under libvirt', () => {
  it.each(DOMAINS)('%s: valid before means valid after, and libvirt\'s parser accepts the result', async (name) => {
    const before = await validateDomainXml(fixture(`domains/${name}.xml`));
    const after = await validateDomainXml(rewriteDomain(fixture(`domains/${name}.xml`), ours));
    expect(before.rng, before.output).toBe(SCHEMA_VALID.has(name));
    expect(after.parser, after.output).toBe(true);
    expect(after.rng, after.output).toBe(before.rng);
  });

  it('keeps our socket paths and aliases through libvirt\'s define and dumpxml', async () => {
    const dumped = await dumpDomainXml(rewriteDomain(fixture('domains/busy.xml'), ours), 'default_vmi-dpdk');
    for (const iface of ours) {
      const source = `//interface[alias/@name='ua-${iface.vmiInterface}']/source`;
      expect(await xpathString(dumped, `${source}/@path`)).toBe(iface.socketPath);
      expect(await xpathString(dumped, `${source}/@mode`)).toBe(iface.mode);
    }
    expect(await xpathString(dumped, '/domain/memoryBacking/access/@mode')).toBe('shared');
  });
});
