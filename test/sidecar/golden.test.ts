// OnDefineDomain end to end over a real unix socket, as virt-launcher calls it: fixture VMIs of
// both API dialects and both pod-interface naming schemes, against KubeVirt's own test domains
// and a domain another hook has already edited. Output is golden, idempotent and libvirt-valid.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import { validateDomainXml } from '../helpers/libvirt.js';
import { defineRequest, domainFixture, resultXml, SIDECAR_CASES, sidecarCase, startTestSidecar, type TestSidecar } from './helpers.js';

// sidecar/kubevirt-tabs: indented with tabs, as virt-launcher marshals the domain it sends hooks.
const DOMAINS = ['kubevirt-hooks', 'sidecar/kubevirt-tabs', 'kubevirt-x86_64', 'busy'] as const;
const EXPECTED_IFACES = { 'binding-hashed': ['dpdk0', 'dpdk1'], 'vhostuser-ordinal': ['vhost-user-net-1', 'vhost-user-net-2'] };

describe.each(SIDECAR_CASES)('OnDefineDomain, case %s', (caseName) => {
  const { podinfo, vmiJson } = sidecarCase(caseName);
  let t: TestSidecar;
  const define = async (domainXml: string): Promise<string> => resultXml(await t.onDefineDomain(defineRequest(domainXml, vmiJson)));

  beforeAll(async () => {
    t = await startTestSidecar({ rewrite: converterRewrite(podinfo, { links: 'where-visible' }) });
  });
  afterAll(async () => {
    await t.close();
  });

  it.each(DOMAINS)('rewrites %s as the golden file says, and again to the same bytes', async (domain) => {
    const xml = await define(domainFixture(domain));
    await expect(xml).toMatchFileSnapshot(join('../../fixtures/sidecar/expected', `${caseName}.${domain.replace('sidecar/', '')}.xml`));
    const aliases = [...xml.matchAll(/<interface type='vhostuser'>[\s\S]*?<alias name='ua-([^']+)'\/>/g)].map((m) => m[1]);
    expect(aliases).toEqual(EXPECTED_IFACES[caseName]);
    expect(await define(xml)).toBe(xml);
  });

  it.each(DOMAINS)('%s: libvirt accepts the result as well as it accepted the input', async (domain) => {
    const input = domainFixture(domain);
    const before = await validateDomainXml(input);
    const after = await validateDomainXml(await define(input));
    // KubeVirt's own test domains fail the schema on an empty <sysinfo><bios>: no new error allowed.
    expect({ rng: after.rng, parser: after.parser }, after.output).toEqual({ rng: before.rng, parser: true });
  });

  it('keeps what other hooks wrote; replaces a stale interface only when its alias is ours', async () => {
    const input = domainFixture('busy');
    const xml = await define(input);
    const sriov = /    <!-- written by the SR-IOV hook[\s\S]*?<\/interface>\n/.exec(input)?.[0];
    const qemu = /  <qemu:commandline>[\s\S]*?<\/qemu:commandline>\n/.exec(input)?.[0];
    expect(sriov).toBeDefined();
    expect(xml).toContain(sriov);
    expect(xml).toContain(qemu);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<!-- A domain as KubeVirt writes it')).toBe(true);
    // busy.xml carries a vhost-user interface aliased ua-dpdk0 from an earlier definition.
    expect(xml.includes('stale-net1')).toBe(!EXPECTED_IFACES[caseName].includes('dpdk0'));
  });
});
