// helm lint --strict and helm template for the defaults and each TLS mode; every rendered object
// must pass the Kubernetes schemas (kubernetes-models) or, for CRD kinds, the hand-written checks.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDir, findObject, runHelm, template, tryTemplate, type K8sObject } from '../helpers/helm.js';
import { isCustomKind, validateObject } from './manifests.js';
import { nonDefaultWebhook, realCaPem, tlsModes, type Values } from './scenarios.js';

let modes: Record<string, Values>;
beforeAll(async () => {
  modes = tlsModes(await realCaPem());
});

const kindsOf = (objects: readonly K8sObject[]) => objects.map((o) => `${o.apiVersion} ${o.kind}`).sort();

const setJson = (values: Values) => Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);

describe('Chart.yaml', () => {
  const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;

  it('is a v2 chart with a kubeVersion constraint and an appVersion', () => {
    expect(chart['apiVersion']).toBe('v2');
    expect(chart['kubeVersion']).toBe('>=1.25.0-0');
    expect(chart['appVersion']).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('refuses to render for a Kubernetes older than the constraint', async () => {
    const run = await tryTemplate({ extraArgs: ['--kube-version', '1.24.0'] });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('chart requires kubeVersion: >=1.25.0-0');
  });
});

describe('helm lint --strict', () => {
  it.each(['selfSigned', 'certManager', 'certManager with own issuer', 'secret'])('passes in TLS mode %s', async (mode) => {
    const run = await runHelm(['lint', '--strict', chartDir, ...setJson(modes[mode] ?? {})]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(run.code).toBe(0);
  });

  it('passes with the ServiceMonitor and every webhook setting changed', async () => {
    const run = await runHelm(['lint', '--strict', chartDir, ...setJson({ ...nonDefaultWebhook, 'serviceMonitor.enabled': true })]);
    expect(run.stdout).toContain('0 chart(s) failed');
    expect(run.code).toBe(0);
  });

  it('fails when a value breaks the schema', async () => {
    const run = await runHelm(['lint', '--strict', chartDir, ...setJson({ 'webhook.failurePolicy': 'Maybe' })]);
    expect(run.code).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain('/webhook/failurePolicy');
  });
});

describe('helm template', () => {
  const common = [
    'admissionregistration.k8s.io/v1 MutatingWebhookConfiguration',
    'apps/v1 Deployment',
    'networking.k8s.io/v1 NetworkPolicy',
    'policy/v1 PodDisruptionBudget',
    'rbac.authorization.k8s.io/v1 ClusterRole',
    'rbac.authorization.k8s.io/v1 ClusterRoleBinding',
    'v1 Service',
    'v1 ServiceAccount',
  ];
  const expectedKinds: Record<string, string[]> = {
    selfSigned: [...common, 'v1 Secret'],
    certManager: [...common, 'cert-manager.io/v1 Certificate', 'cert-manager.io/v1 Certificate',
      'cert-manager.io/v1 Issuer', 'cert-manager.io/v1 Issuer'],
    'certManager with own issuer': [...common, 'cert-manager.io/v1 Certificate'],
    // The user brings the Secret: the chart renders none.
    secret: [...common],
  };

  it.each(Object.keys(expectedKinds))('renders exactly the expected kinds in TLS mode %s', async (mode) => {
    const objects = await template({ values: modes[mode] ?? {} });
    expect(kindsOf(objects)).toEqual([...(expectedKinds[mode] ?? [])].sort());
  });

  it.each(Object.keys(expectedKinds))('renders only schema-valid objects in TLS mode %s', async (mode) => {
    const objects = await template({ values: { ...modes[mode], 'serviceMonitor.enabled': true, 'prometheusRule.enabled': true, 'grafanaDashboard.enabled': true } });
    expect(objects.length).toBeGreaterThan(9);
    for (const obj of objects) expect(() => validateObject(obj)).not.toThrow();
  });

  it('renders schema-valid objects with every webhook setting changed', async () => {
    const objects = await template({ values: { ...nonDefaultWebhook, 'tls.mode': 'certManager', 'replicaCount': 3 } });
    for (const obj of objects) expect(() => validateObject(obj)).not.toThrow();
    // Offline: nothing to read from the API, so no ClusterRole.
    expect(objects.some((o) => o.kind === 'ClusterRole')).toBe(false);
  });

  it('puts namespaced objects in the release namespace', async () => {
    const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration']);
    const objects = await template({
      namespace: 'net-system',
      values: { 'tls.mode': 'certManager', 'serviceMonitor.enabled': true, 'prometheusRule.enabled': true, 'grafanaDashboard.enabled': true },
    });
    for (const obj of objects) {
      expect(obj.metadata.namespace, `${obj.kind}/${obj.metadata.name}`).toBe(clusterScoped.has(obj.kind) ? undefined : 'net-system');
    }
  });
});

describe('NOTES.txt', () => {
  const notes = async (values: Values) => {
    const run = await runHelm(['install', 'vhu', chartDir, '--namespace', 'vms-net', '--dry-run=client', ...setJson(values)]);
    expect(run.code).toBe(0);
    return run.stdout.slice(run.stdout.indexOf('NOTES:'));
  };

  it('warns that baseline and restricted Pod Security levels reject the mutated pods', async () => {
    const text = await notes({});
    expect(text).toContain('Pod Security admission runs after mutating webhooks');
    expect(text).toMatch(/hostPath \(\/var\/run\/openvswitch\/\), which the "baseline" and "restricted" levels forbid/);
    expect(text).toContain("kubectl get namespaces -l 'pod-security.kubernetes.io/enforce in (baseline,restricted)'");
    // Every example it points to ships with the chart.
    const examples = text.match(/examples\/[\w.-]+\.yaml/g) ?? [];
    expect(examples).toHaveLength(3);
    for (const file of examples) expect(existsSync(path.join(chartDir, file)), file).toBe(true);
  });

  it('says when a single replica left the PodDisruptionBudget out', async () => {
    expect(await notes({})).not.toContain('no PodDisruptionBudget');
    expect(await notes({ replicaCount: 1 })).toContain('replicaCount is 1, so no PodDisruptionBudget was created');
  });
});

describe('validateObject', () => {
  // The validators themselves must be able to fail, or the checks above prove nothing.
  it('rejects a Deployment whose container has no name', async () => {
    const deployment = structuredClone(findObject(await template(), 'Deployment')) as any;
    delete deployment.spec.template.spec.containers[0].name;
    expect(() => validateObject(deployment)).toThrow(/Deployment\/vhu-kubevirt-vhostuser: .*name/);
  });

  it('rejects a webhook configuration with an unknown failurePolicy', async () => {
    const mwc = structuredClone(findObject(await template(), 'MutatingWebhookConfiguration')) as any;
    mwc.webhooks[0].failurePolicy = 'Maybe';
    expect(() => validateObject(mwc)).toThrow(/failurePolicy/);
  });

  it.each([
    ['Certificate without issuerRef', 'Certificate', (o: any) => delete o.spec.issuerRef, /spec\.issuerRef must be object/],
    ['Issuer with two types', 'Issuer', (o: any) => (o.spec.ca = { secretName: 'x' }), /exactly one issuer type/],
    ['ServiceMonitor without endpoints', 'ServiceMonitor', (o: any) => delete o.spec.endpoints, /spec\.endpoints must be array/],
  ])('checks CRD kinds by hand: %s', async (_case, kind, breakIt, message) => {
    const objects = await template({ values: { 'tls.mode': 'certManager', 'serviceMonitor.enabled': true } });
    const obj = structuredClone(objects.find((o) => o.kind === kind)) as K8sObject;
    expect(isCustomKind(obj)).toBe(true);
    expect(() => validateObject(obj)).not.toThrow();
    breakIt(obj);
    expect(() => validateObject(obj)).toThrow(message);
  });

  it('refuses kinds it has no validator for', () => {
    const obj: K8sObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } };
    expect(() => validateObject(obj)).toThrow('Pod/x: no validator for v1/Pod');
  });
});
