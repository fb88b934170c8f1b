// The matchConditions that keep a webhook outage away from VMs without vhost-user: rendered by
// Kubernetes version (or forced by a value), and the rendered CEL expression evaluated (with a CEL
// implementation, not a copy of the expression) on launcher pods that do and do not need us.
import { evaluate } from '@marcbachmann/cel-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { template, tryTemplate } from '../helpers/helm.js';
import { loadPod, podNames, type Json } from '../webhook/fixtures.js';
import { webhookOf } from './scenarios.js';

const render = async (kubeVersion: string, matchConditions?: unknown) =>
  webhookOf(await template({ extraArgs: ['--kube-version', kubeVersion], ...(matchConditions === undefined ? {} : { values: { 'webhook.matchConditions': matchConditions } }) }));

let conditions: { name: string; expression: string }[] = [];
beforeAll(async () => {
  conditions = (await render('1.30.0'))['matchConditions'] as typeof conditions;
});

/** The API server evaluates each condition with the admitted object as `object`; all must be true. */
function calledFor(pod: Json): boolean {
  return conditions.every((c) => evaluate(c.expression, { object: pod }) === true);
}

const launcher = (annotations: Record<string, string> | undefined, spec: Json = {}): Json => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'virt-launcher-vm-', labels: { 'kubevirt.io': 'virt-launcher' }, ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'compute', image: 'virt-launcher' }], ...spec },
});

describe('matchConditions rendering', () => {
  it.each([
    ['1.27.0', 'auto', false],
    ['1.28.0', 'auto', true],
    ['1.30.0', 'auto', true],
    ['1.36.0', undefined, true],
    ['1.27.0', true, true],
    ['1.30.0', false, false],
  ])('Kubernetes %s with matchConditions=%s: rendered %s', async (kube, value, rendered) => {
    const hook = await render(kube, value);
    expect(hook['matchConditions'] !== undefined).toBe(rendered);
    if (rendered) expect((hook['matchConditions'] as { name: string }[]).map((c) => c.name)).toEqual(['multus-network-or-resource-claim']);
  });

  it('rejects any other value', async () => {
    const run = await tryTemplate({ values: { 'webhook.matchConditions': 'maybe' } });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('/webhook/matchConditions');
  });
});

describe('matchConditions: which launcher pods the API server still sends', () => {
  it('every launcher pod fixture with a Multus secondary network', async () => {
    for (const name of podNames()) {
      const pod = loadPod(name);
      const annotations = ((pod['metadata'] as Json | undefined)?.['annotations'] ?? {}) as Record<string, string>;
      expect([name, calledFor(pod)]).toEqual([name, 'k8s.v1.cni.cncf.io/networks' in annotations]);
    }
  });

  it('a Multus default network, or DRA resource claims without any Multus annotation', async () => {
    expect(calledFor(launcher({ 'v1.multus-cni.io/default-network': 'vnf/ovs-dpdk' }))).toBe(true);
    expect(calledFor(launcher(undefined, { resourceClaims: [{ name: 'dpdk', resourceClaimTemplateName: 'ovs-dpdk' }] }))).toBe(true);
  });

  it('not a launcher pod on the pod network alone, with no annotations at all, or with empty claims', async () => {
    expect(calledFor(launcher({ 'kubevirt.io/domain': 'vm', 'kubectl.kubernetes.io/default-container': 'compute' }))).toBe(false);
    expect(calledFor(launcher(undefined))).toBe(false);
    expect(calledFor(launcher({}, { resourceClaims: [] }))).toBe(false);
  });
});
