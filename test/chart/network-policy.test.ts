// The NetworkPolicy and the separate metrics port: anyone on the pod network can otherwise reach
// every port of the webhook pods. Rendered with the real helm, validated with kubernetes-models.
import { describe, expect, it } from 'vitest';
import { findObject, template, tryTemplate, type K8sObject } from '../helpers/helm.js';
import { validateObject } from './manifests.js';
import { podOf, type Values } from './scenarios.js';

const policyOf = async (values: Values = {}) => {
  const objects = await template({ values });
  const np = findObject(objects, 'NetworkPolicy');
  validateObject(np);
  return { np, spec: np['spec'] as { podSelector: unknown; policyTypes: string[]; ingress: Record<string, any>[] }, objects };
};

describe('NetworkPolicy', () => {
  it('is on by default: the admission port from anywhere, the metrics port from Prometheus in the monitoring namespace only, nothing else', async () => {
    const { spec, objects } = await policyOf();
    expect(spec.podSelector).toEqual({ matchLabels: (findObject(objects, 'Deployment')['spec'] as any).selector.matchLabels });
    expect(spec.policyTypes).toEqual(['Ingress']);
    expect(spec.ingress).toEqual([
      // No `from`: the API server calls from addresses that differ per cluster.
      { ports: [{ port: 8443, protocol: 'TCP' }] },
      {
        ports: [{ port: 8444, protocol: 'TCP' }],
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
          },
        ],
      },
    ]);
  });

  it('takes the metrics scrapers and the admission callers from values', async () => {
    const { spec } = await policyOf({
      'webhook.port': 9443,
      'webhook.metricsPort': 9090,
      'networkPolicy.webhookFrom': [{ ipBlock: { cidr: '10.0.0.0/24' } }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
      'networkPolicy.metricsFrom': [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['obs'] }] }, podSelector: {} }],
    });
    expect(spec.ingress).toEqual([
      { ports: [{ port: 9443, protocol: 'TCP' }], from: [{ ipBlock: { cidr: '10.0.0.0/24' } }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }] },
      { ports: [{ port: 9090, protocol: 'TCP' }], from: [{ namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['obs'] }] }, podSelector: {} }] },
    ]);
  });

  it('has one rule when metrics share the admission port (webhook.metricsPort 0), and no metrics port anywhere', async () => {
    const { spec, objects } = await policyOf({ 'webhook.metricsPort': 0, 'serviceMonitor.enabled': true });
    expect(spec.ingress).toEqual([{ ports: [{ port: 8443, protocol: 'TCP' }] }]);
    const { container } = podOf(objects);
    expect(container['ports']).toEqual([{ name: 'https', containerPort: 8443, protocol: 'TCP' }]);
    expect((container['args'] as string[]).some((a) => a.startsWith('--metrics-listen'))).toBe(false);
    expect(((findObject(objects, 'Service')['spec'] as any).ports as unknown[]).length).toBe(1);
    expect((findObject(objects, 'ServiceMonitor')['spec'] as any).endpoints[0].port).toBe('https');
  });

  it('is left out when disabled', async () => {
    const objects: K8sObject[] = await template({ values: { 'networkPolicy.enabled': false } });
    expect(objects.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
  });

  it('serves metrics on their own port by default, where the ServiceMonitor scrapes them', async () => {
    const objects = await template({ values: { 'serviceMonitor.enabled': true, 'webhook.listenHost': '[::]' } });
    expect(podOf(objects).container['args']).toContain('--metrics-listen=[::]:8444');
    expect((findObject(objects, 'ServiceMonitor')['spec'] as any).endpoints[0].port).toBe('metrics');
  });

  it.each<[string, Values, string]>([
    ['a metrics port equal to the admission port', { 'webhook.metricsPort': 8443 }, 'webhook.metricsPort (8443) must differ from webhook.port'],
    ['a privileged metrics port', { 'webhook.metricsPort': 80 }, "at '/webhook/metricsPort'"],
    ['an unknown networkPolicy key', { 'networkPolicy.ingress': [] }, "at '/networkPolicy': additional properties 'ingress' not allowed"],
    ['a selector that is not one', { 'networkPolicy.metricsFrom': [{ podSelector: { app: 'prometheus' } }] }, "at '/networkPolicy/metricsFrom/0/podSelector'"],
    ['no metrics peer, which would admit everyone', { 'networkPolicy.metricsFrom': [] }, "at '/networkPolicy/metricsFrom': minItems"],
    ['an empty peer', { 'networkPolicy.webhookFrom': [{}] }, "at '/networkPolicy/webhookFrom/0'"],
  ])('rejects %s', async (_case, values, message) => {
    const run = await tryTemplate({ values });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
  });
});
