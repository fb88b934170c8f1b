import { rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConverterError } from '../../converter/src/errors.js';
import { convert, rewriteDomainForPod } from '../../converter/src/index.js';
import { readPodAnnotationsFile } from '../../converter/src/podnetinfo/read.js';
import { validateDomainXml } from '../helpers/libvirt.js';
import { caseNames, casesDir, loadCase, loadCaseVmi, repoRoot, wrapInDomain } from './case-files.js';
import { withoutHint } from './expect-error.js';
import { makeVolumeDir, publishAnnotations } from './kubelet-volume.js';

/** KubeVirt's own domains fail the schema on an empty <sysinfo><bios>: no new error is the bar. */
async function expectNoNewLibvirtError(input: string, output: string): Promise<void> {
  const [before, after] = await Promise.all([validateDomainXml(input), validateDomainXml(output)]);
  expect(after.parser, after.output).toBe(true);
  if (before.rng) expect(after.rng, after.output).toBe(true);
}

const golden = caseNames('golden').filter((name) => name !== 'late-annotations');

describe('fixture cases', () => {
  it('has one case per situation', () => {
    expect(golden).toEqual([
      'absolute-socketfile',
      'bare-socket-name',
      'hashed-deviceinfo',
      'multiqueue',
      'ordinal-on-new-kubevirt',
      'seed-ordinal-configdata',
      'two-vhostuser-masquerade',
    ]);
  });

  it.each(golden)('%s converts to its golden XML, which libvirt accepts', async (name) => {
    const input = loadCase(name);
    const { xml, interfaces } = convert(input);
    expect(interfaces.length).toBeGreaterThan(0);
    await expect(xml).toMatchFileSnapshot(join(casesDir, name, 'expected.xml'));
    if (input.domainXml === undefined) {
      const result = await validateDomainXml(wrapInDomain(xml));
      expect(result.rng && result.parser, result.output).toBe(true);
      return;
    }
    await expectNoNewLibvirtError(input.domainXml, xml);
    // Idempotent: converting the output again changes nothing.
    expect(convert({ ...input, domainXml: xml }).xml).toBe(xml);
  });
});

describe('late-annotations case', () => {
  const volumes: string[] = [];
  afterAll(async () => {
    await Promise.all(volumes.map((d) => rm(d, { recursive: true, force: true })));
  });
  const input = loadCase('late-annotations');
  const initial = readFileSync(join(casesDir, 'late-annotations/annotations.initial'), 'utf8');
  const final = readFileSync(join(casesDir, 'late-annotations/annotations'), 'utf8');

  it('waits for the CNI annotations that kubelet publishes during the wait', async () => {
    const dir = await makeVolumeDir();
    volumes.push(dir);
    await publishAnnotations(dir, initial);
    const domainXml = input.domainXml ?? '';
    const pending = rewriteDomainForPod({ domainXml, vmi: input.vmi, podinfo: dir, waitMs: 20_000, links: 'where-visible', config: { pollMs: 5_000 } });
    setTimeout(() => void publishAnnotations(dir, final), 50);
    const xml = await pending;
    await expect(xml).toMatchFileSnapshot(join(casesDir, 'late-annotations/expected.xml'));
    await expectNoNewLibvirtError(domainXml, xml);
  });

  it('gives up with E_TIMEOUT naming the interface when they never come', async () => {
    const dir = await makeVolumeDir();
    volumes.push(dir);
    await publishAnnotations(dir, initial);
    const err = await rewriteDomainForPod({ domainXml: input.domainXml ?? '', vmi: input.vmi, podinfo: dir, waitMs: 200, config: { pollMs: 50 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConverterError);
    expect((err as ConverterError).details.missing).toEqual(['vhost-user-net-1']);
    expect((err as ConverterError).message.replace(dir, '<dir>')).toMatchInlineSnapshot(`"<dir>/annotations: still missing after 0.2s: interface 'vhost-user-net-1': no vhost-user socket for pod interface pod8a685b6ca34 (NAD vms/dpdk-net): no vhost-user device-info, no userspace/configuration-data entry with ifName pod8a685b6ca34 (hint: the CNI writes these annotations during pod network setup; check Multus and the CNI logs, or wait longer)"`);
  });
});

describe('rewriteDomainForPod', () => {
  it('returns the domain untouched, without reading podinfo, for a VMI without vhost-user interfaces', async () => {
    const { domainXml = '' } = loadCase('hashed-deviceinfo');
    const vmi = { spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {} }] } }, networks: [{ name: 'default', pod: {} }] } };
    const xml = await rewriteDomainForPod({ domainXml, vmi, podinfo: join(casesDir, 'no-such-dir') });
    expect(xml).toBe(domainXml);
  });

  it('reads once with waitMs 0 and reports the first missing fact', async () => {
    const { domainXml = '', vmi } = loadCase('late-annotations');
    const err = await rewriteDomainForPod({ domainXml, vmi, podinfo: join(casesDir, 'late-annotations/annotations.initial'), waitMs: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_SOCKET_NOT_FOUND', details: { iface: 'vhost-user-net-1' } });
  });
});

describe('error cases', () => {
  it('each fails with its own code and a message naming what is wrong', async () => {
    const outcomes: Record<string, string> = {};
    for (const name of caseNames('error')) {
      const dir = join(casesDir, name);
      try {
        const annotations = await readPodAnnotationsFile(dir);
        convert({ annotations, vmi: loadCaseVmi(name) });
        outcomes[name] = 'no error';
      } catch (err) {
        if (!(err instanceof ConverterError)) throw err;
        outcomes[name] = `${err.code}: ${withoutHint(err).replace(repoRoot, '<repo>')}`;
      }
    }
    expect(outcomes).toMatchInlineSnapshot(`
      {
        "error-annotation-json": "E_ANNOTATION_JSON: annotation k8s.v1.cni.cncf.io/network-status: not valid JSON (Unexpected end of JSON input)",
        "error-annotation-untrusted": "E_ANNOTATION_UNTRUSTED: interface 'dpdk0': no CNI-written socket for pod interface pod0234249e469; ignored kubevirt.io/network-info: the same key and value stand in the VMI's metadata.annotations, so the VMI owner wrote it, not a CNI or KubeVirt",
        "error-mode": "E_MODE: interface 'dpdk0': device-info of pod interface pod0234249e469: mode 'listen' is neither server nor client",
        "error-network-not-found": "E_NETWORK_NOT_FOUND: interface 'dpdk0': no network named 'dpdk0' in spec.networks",
        "error-not-multus": "E_NOT_MULTUS: interface 'dpdk0': network 'dpdk0' is neither a Multus nor a DRA network",
        "error-pod-interface-not-found": "E_POD_INTERFACE_NOT_FOUND: interface 'dpdk0': no pod interface for network 'dpdk0' (NAD vms/dpdk-net) in network-status, networks or userspace/configuration-data",
        "error-podinfo-syntax": "E_PODINFO_SYNTAX: <repo>/fixtures/cases/error-podinfo-syntax/annotations:2: value of kubevirt.io/domain: expected an opening double quote at column 20",
        "error-socket-not-found": "E_SOCKET_NOT_FOUND: interface 'sriov-a': no vhost-user socket for pod interface net1 (NAD default/sriov-net-a): device-info is type 'pci', no userspace/configuration-data entry with ifName net1",
        "error-socket-ovs-control": "E_SOCKET_PATH: interface 'dpdk0': socket path "/var/run/openvswitch/db.sock" from k8s.v1.cni.cncf.io/network-status names an OVS control file (db.sock)",
        "error-socket-path": "E_SOCKET_PATH: interface 'dpdk0': socket path is 129 bytes, more than the 107 a unix socket allows",
        "error-vmi-invalid": "E_VMI_INVALID: VMI spec.domain: Invalid input: expected object, received undefined",
      }
    `);
  });
});
