// The converter's fixture cases (fixtures/cases/) driven through the hook sidecar over gRPC, as
// virt-launcher would: the answer must be exactly what the library produces (and the cases'
// golden files say), the late-annotations case must wait, and error cases get a fitting status.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../converter/src/index.js';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import { caseNames, casesDir, loadCase, loadCaseVmi, repoRoot, wrapInDomain } from '../converter/case-files.js';
import { makeVolumeDir, publishAnnotations } from '../converter/kubelet-volume.js';
import { defineRequest, domainFixture, resultXml, startTestSidecar } from './helpers.js';

const golden = caseNames('golden').filter((name) => name !== 'late-annotations');

/** Runs one OnDefineDomain against a sidecar serving the case's podinfo directory. */
async function defineWithCase(podinfo: string, domainXml: string, vmi: unknown, waitMs = 200, allowedSocketDirs: readonly string[] = []): Promise<string> {
  const t = await startTestSidecar({ rewrite: converterRewrite(podinfo, { allowedSocketDirs, links: 'where-visible' }), waitMs });
  try {
    return resultXml(await t.onDefineDomain(defineRequest(domainXml, JSON.stringify(vmi))));
  } finally {
    await t.close();
  }
}

describe('fixture cases through the sidecar', () => {
  it.each(golden)('%s: the sidecar answers what convert() returns, idempotently', async (name) => {
    const input = loadCase(name);
    const domainXml = input.domainXml ?? wrapInDomain('');
    const allowed = input.config?.allowedSocketDirs ?? [];
    const xml = await defineWithCase(input.dir, domainXml, input.vmi, 200, allowed);
    expect(xml).toBe(convert({ annotations: input.annotations, vmi: input.vmi, domainXml, ...(input.config ? { config: { allowedSocketDirs: [...allowed] } } : {}) }).xml);
    expect(xml).toMatch(/<interface type='vhostuser'>/);
    expect(await defineWithCase(input.dir, xml, input.vmi, 200, allowed)).toBe(xml);
  });

  it.each(golden.filter((name) => loadCase(name).domainXml !== undefined))('%s: equals the case golden file', async (name) => {
    const input = loadCase(name);
    const xml = await defineWithCase(input.dir, input.domainXml as string, input.vmi, 200, input.config?.allowedSocketDirs ?? []);
    expect(xml).toBe(readFileSync(join(casesDir, name, 'expected.xml'), 'utf8'));
  });
});

describe('late-annotations case through the sidecar', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('waits within one call until kubelet publishes the CNI annotations', async () => {
    const input = loadCase('late-annotations');
    const dir = await makeVolumeDir();
    dirs.push(dir);
    await publishAnnotations(dir, readFileSync(join(casesDir, 'late-annotations/annotations.initial'), 'utf8'));
    const t = await startTestSidecar({ rewrite: converterRewrite(dir, { links: 'where-visible' }), waitMs: 20_000 });
    try {
      const pending = t.onDefineDomain(defineRequest(input.domainXml as string, JSON.stringify(input.vmi)));
      setTimeout(() => void publishAnnotations(dir, readFileSync(join(casesDir, 'late-annotations/annotations'), 'utf8')), 50);
      expect(resultXml(await pending)).toBe(readFileSync(join(casesDir, 'late-annotations/expected.xml'), 'utf8'));
    } finally {
      await t.close();
    }
  });
});

describe('error cases through the sidecar', () => {
  it('each gets a status fitting its cause and a message naming the VMI and the interface', async () => {
    const domain = domainFixture('kubevirt-hooks');
    const outcomes: Record<string, string> = {};
    for (const name of caseNames('error')) {
      const vmi = loadCaseVmi(name);
      try {
        const xml = await defineWithCase(join(casesDir, name), domain, vmi, 100);
        outcomes[name] = xml === domain ? 'unchanged' : 'rewritten';
      } catch (err) {
        const e = err as ServiceError;
        outcomes[name] = `${status[e.code]}: ${e.details.replace(repoRoot, '<repo>').replace(/ \(hint: .*\)$/, '')}`;
      }
    }
    expect(outcomes).toMatchInlineSnapshot(`
      {
        "error-annotation-json": "FAILED_PRECONDITION: VMI vms/vm-err: annotation k8s.v1.cni.cncf.io/network-status: not valid JSON (Unexpected end of JSON input)",
        "error-annotation-untrusted": "DEADLINE_EXCEEDED: VMI vms/vm-err: <repo>/fixtures/cases/error-annotation-untrusted/annotations: still missing after 0.1s: interface 'dpdk0': no CNI-written socket for pod interface pod0234249e469; ignored kubevirt.io/network-info: the same key and value stand in the VMI's metadata.annotations, so the VMI owner wrote it, not a CNI or KubeVirt",
        "error-mode": "FAILED_PRECONDITION: VMI vms/vm-err: interface 'dpdk0': device-info of pod interface pod0234249e469: mode 'listen' is neither server nor client",
        "error-network-not-found": "INVALID_ARGUMENT: VMI vms/vm-err: interface 'dpdk0': no network named 'dpdk0' in spec.networks",
        "error-not-multus": "INVALID_ARGUMENT: VMI vms/vm-err: interface 'dpdk0': network 'dpdk0' is neither a Multus nor a DRA network",
        "error-pod-interface-not-found": "DEADLINE_EXCEEDED: VMI vms/vm-err: <repo>/fixtures/cases/error-pod-interface-not-found/annotations: still missing after 0.1s: interface 'dpdk0': no pod interface for network 'dpdk0' (NAD vms/dpdk-net) in network-status, networks or userspace/configuration-data",
        "error-podinfo-syntax": "FAILED_PRECONDITION: VMI vms/vm-err: <repo>/fixtures/cases/error-podinfo-syntax/annotations:2: value of kubevirt.io/domain: expected an opening double quote at column 20",
        "error-socket-not-found": "DEADLINE_EXCEEDED: VMI default/vm-err: <repo>/fixtures/cases/error-socket-not-found/annotations: still missing after 0.1s: interface 'sriov-a': no vhost-user socket for pod interface net1 (NAD default/sriov-net-a): device-info is type 'pci', no userspace/configuration-data entry with ifName net1",
        "error-socket-ovs-control": "FAILED_PRECONDITION: VMI vms/vm-err: interface 'dpdk0': socket path "/var/run/openvswitch/db.sock" from k8s.v1.cni.cncf.io/network-status names an OVS control file (db.sock)",
        "error-socket-path": "FAILED_PRECONDITION: VMI vms/vm-err: interface 'dpdk0': socket path is 129 bytes, more than the 107 a unix socket allows",
        "error-vmi-invalid": "INVALID_ARGUMENT: VMI ubuntu-vhostuser spec.domain: Invalid input: expected object, received undefined",
      }
    `);
  });
});
