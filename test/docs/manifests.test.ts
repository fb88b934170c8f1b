// The manifests the operator docs hand out: the telco-grade VM validates against KubeVirt 1.5's
// OpenAPI schema with unknown fields refused (as the API server's strict field validation
// refuses them), keeps the create-time rules of KubeVirt's VMI admitter, converts to a multiqueue
// vhost-user interface, and its hugepage figures in docs/telco-vm.md follow from it; the
// HyperConverged patch carries the same binding as the KubeVirt CR patch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runConvert } from '../../converter/src/cli.js';
import { ROOT } from './markdown.js';

type Obj = Record<string, any>;
const load = (rel: string): Obj => parse(readFileSync(join(ROOT, rel), 'utf8')) as Obj;

const telco = load('fixtures/install/virtual-machine-telco.yaml');
const doc = readFileSync(join(ROOT, 'docs/telco-vm.md'), 'utf8');

/** KubeVirt's VirtualMachine schema with every object's unlisted fields refused. */
function strictVirtualMachineSchema(): (value: unknown) => string[] {
  const schema = JSON.parse(readFileSync(join(ROOT, 'fixtures/schemas/kubevirt-v1.5.0-virtualmachine.json'), 'utf8')) as { definitions: Record<string, Obj> };
  const strict = (s: unknown): void => {
    if (typeof s !== 'object' || s === null) return;
    const o = s as Obj;
    if (o['properties'] !== undefined && o['additionalProperties'] === undefined) o['additionalProperties'] = false;
    for (const v of Object.values(o)) strict(v);
  };
  strict(schema.definitions);
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile({ definitions: schema.definitions, $ref: '#/definitions/v1.VirtualMachine' });
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`));
}
const validateVm = strictVirtualMachineSchema();

const spec = telco['spec'].template.spec as Obj;
const cpu = spec['domain'].cpu as Obj;
const memory = spec['domain'].memory as Obj;
const GiB = 2 ** 30;
const bytes = (q: string): number => Number(/^(\d+)Gi$/.exec(q)?.[1] ?? Number.NaN) * GiB;

describe('the telco-grade VM (fixtures/install/virtual-machine-telco.yaml)', () => {
  it.each(['virtual-machine-telco.yaml', 'virtual-machine.yaml'])("fixtures/install/%s validates against KubeVirt 1.5's VirtualMachine schema, unknown fields refused", (file) => {
    expect(validateVm(load(`fixtures/install/${file}`))).toEqual([]);
  });

  it('the strict schema refuses a misspelt field and a wrong type, so a pass means something', () => {
    const typo = structuredClone(telco);
    typo['spec'].template.spec.domain.cpu.isolateEmulatorThreads = true;
    expect(validateVm(typo).join('\n')).toContain('isolateEmulatorThreads');
    const wrong = structuredClone(telco);
    wrong['spec'].template.spec.domain.cpu.cores = 'four';
    expect(validateVm(wrong).join('\n')).toContain('/spec/template/spec/domain/cpu/cores must be integer');
  });

  it("keeps the rules KubeVirt's VMI admitter checks at create (v1.5.0 vmi-create-admitter.go)", () => {
    expect(cpu).toMatchObject({ dedicatedCpuPlacement: true, isolateEmulatorThread: true, numa: { guestMappingPassthrough: {} } });
    // validateNUMA: passthrough needs dedicated CPUs and hugepages; the IsolateEmulatorThread check: dedicated CPUs.
    expect(memory['hugepages']?.pageSize).toBe('1Gi');
    // validateThreadCountOnDedicatedCPUPlacement: at most 2 threads.
    expect(cpu['threads']).toBeLessThanOrEqual(2);
    // validateHugepagesMemoryRequests: the memory request is a whole number (>= 1) of pages.
    const request = bytes(spec['domain'].resources.requests.memory as string);
    expect(request % bytes(memory['hugepages'].pageSize as string)).toBe(0);
    expect(request).toBeGreaterThanOrEqual(GiB);
    expect(spec['domain'].devices.networkInterfaceMultiqueue).toBe(true);
  });

  it('converts to a vhost-user interface with one queue per vCPU', async () => {
    const xml = await runConvert(['--vmi', join(ROOT, 'fixtures/install/virtual-machine-telco.yaml'), '--podinfo', join(ROOT, 'fixtures/sidecar/cases/binding-hashed'), '--wait', '0']);
    const vcpus = (cpu['sockets'] as number) * (cpu['cores'] as number) * (cpu['threads'] as number);
    expect(xml).toContain(`<driver queues='${vcpus}' `);
    expect(doc).toContain(`<driver queues='${vcpus}'/>`);
  });

  it("docs/telco-vm.md's hugepage figures follow from the VM: pages per VM, per NUMA node, in all", () => {
    // WithHugePages (v1.5.0 renderresources.go): the smaller of the guest memory and the memory request.
    const perVm = Math.min(bytes(memory['guest'] as string), bytes(spec['domain'].resources.requests.memory as string)) / GiB;
    const ovsPerNode = 1; // dpdk-socket-mem="1024,1024" in 1Gi pages
    const vmsPerNode = 2;
    const perNode = ovsPerNode + vmsPerNode * perVm;
    expect(doc).toContain(`**${perVm} pages** for this VM`);
    expect(doc).toContain(`${ovsPerNode} + ${vmsPerNode} x ${perVm} = ${perNode}`);
    expect(doc).toContain(`${2 * perNode} in all`);
    expect(doc).toContain(`hugepages=${2 * perNode}\n`);
    expect(doc).toContain(`OVS's pages on n + ${perVm} x (VMs placed on n)`);
  });
});

describe('the HyperConverged patch (fixtures/install/hyperconverged-binding.yaml)', () => {
  it("registers the KubeVirt CR's binding under spec.networkBinding of the v1beta1 HyperConverged CR", () => {
    const hco = load('fixtures/install/hyperconverged-binding.yaml');
    const cr = load('fixtures/install/kubevirt-cr.yaml');
    expect(hco).toMatchObject({ apiVersion: 'hco.kubevirt.io/v1beta1', kind: 'HyperConverged', metadata: { name: 'kubevirt-hyperconverged' } });
    expect(Object.keys(hco['spec'])).toEqual(['networkBinding']);
    expect(hco['spec'].networkBinding).toEqual(cr['spec'].configuration.network.binding);
  });
});
