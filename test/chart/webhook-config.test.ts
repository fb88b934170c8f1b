// The MutatingWebhookConfiguration (scope, policies) and the TLS each mode sets up: the CA the
// API server is told to trust must be the one that signed the certificate the webhook serves.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { findObject, template, type K8sObject } from '../helpers/helm.js';
import { podOf, realCaPem, USER_TLS_SECRET, webhookOf } from './scenarios.js';

const SERVICE = 'vhu-kubevirt-vhostuser';
const NS = 'kubevirt-vhostuser';
const DNS_NAMES = [SERVICE, `${SERVICE}.${NS}`, `${SERVICE}.${NS}.svc`, `${SERVICE}.${NS}.svc.cluster.local`];

let defaults: K8sObject[];
beforeAll(async () => {
  defaults = await template();
});

const pemCerts = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

describe('MutatingWebhookConfiguration', () => {
  it('sees only pod CREATEs of KubeVirt launcher pods', () => {
    const hook = webhookOf(defaults);
    expect(hook['rules']).toEqual([
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' },
    ]);
    expect(hook['objectSelector']).toEqual({ matchLabels: { 'kubevirt.io': 'virt-launcher' } });
  });

  it('excludes its own namespace and the configured ones', () => {
    expect(webhookOf(defaults)['namespaceSelector']).toEqual({
      matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NS, 'kube-system'] }],
    });
  });

  it('excludes its own namespace even when the exclusion list is emptied or repeats it', async () => {
    for (const excludeNamespaces of [[], [NS, 'tenant-a']]) {
      const hook = webhookOf(await template({ values: { 'webhook.excludeNamespaces': excludeNamespaces } }));
      const values = hook['namespaceSelector'].matchExpressions[0].values as string[];
      expect(values[0]).toBe(NS);
      expect(new Set(values).size).toBe(values.length);
    }
  });

  it('declares no side effects, v1 reviews, Equivalent matching and reinvocation', () => {
    const hook = webhookOf(defaults);
    expect(hook['sideEffects']).toBe('None');
    expect(hook['admissionReviewVersions']).toEqual(['v1']);
    expect(hook['matchPolicy']).toBe('Equivalent');
    expect(hook['reinvocationPolicy']).toBe('IfNeeded');
  });

  it('defaults to failurePolicy Fail and a 10 s timeout, both settable', async () => {
    expect(webhookOf(defaults)).toMatchObject({ failurePolicy: 'Fail', timeoutSeconds: 10 });
    const relaxed = await template({ values: { 'webhook.failurePolicy': 'Ignore', 'webhook.timeoutSeconds': 5, 'webhook.lookupTimeoutMs': 2000 } });
    expect(webhookOf(relaxed)).toMatchObject({ failurePolicy: 'Ignore', timeoutSeconds: 5 });
  });

  it('calls the chart Service on /mutate', () => {
    const service = findObject(defaults, 'Service');
    expect(webhookOf(defaults)['clientConfig'].service).toEqual({ name: service.metadata.name, namespace: NS, path: '/mutate', port: 443 });
  });
});

describe('TLS mode selfSigned', () => {
  it('trusts a CA that signed a serving certificate for every Service DNS name', () => {
    const secret = findObject(defaults, 'Secret');
    const data = secret['data'] as Record<string, string>;
    expect(secret['type']).toBe('kubernetes.io/tls');
    const bundle = b64(webhookOf(defaults)['clientConfig'].caBundle);
    expect(pemCerts(bundle)).toHaveLength(1);
    const ca = new X509Certificate(bundle);
    const cert = new X509Certificate(b64(data['tls.crt'] ?? ''));
    expect(ca.ca).toBe(true);
    expect(b64(data['ca.crt'] ?? '')).toBe(bundle);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    for (const name of DNS_NAMES) expect(cert.checkHost(name), name).toBe(name);
    // The key in the Secret belongs to the certificate.
    expect(cert.checkPrivateKey(createPrivateKey(b64(data['tls.key'] ?? '')))).toBe(true);
  });

  it('records the DNS names and the expiry it will check on the next upgrade', () => {
    const secret = findObject(defaults, 'Secret');
    const cert = new X509Certificate(b64((secret['data'] as Record<string, string>)['tls.crt'] ?? ''));
    const ann = secret.metadata.annotations ?? {};
    expect(ann['kubevirt-vhostuser.io/dns-names']).toBe(DNS_NAMES.join(','));
    const notAfter = Number(ann['kubevirt-vhostuser.io/not-after']);
    // Within a minute of the certificate's own notAfter (rendering takes less).
    expect(Math.abs(notAfter * 1000 - Date.parse(cert.validTo))).toBeLessThan(60_000);
  });

  it('mounts the Secret it generated', () => {
    const volume = (podOf(defaults).spec['volumes'] as any[]).find((v) => v.name === 'tls');
    expect(volume.secret.secretName).toBe(findObject(defaults, 'Secret').metadata.name);
  });
});

describe('TLS mode certManager', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await template({ values: { 'tls.mode': 'certManager' } });
  });

  it('chains self-signed Issuer -> CA Certificate -> CA Issuer -> serving Certificate', () => {
    const bootstrap = findObject(objects, 'Issuer', `${SERVICE}-selfsigned`);
    expect(bootstrap['spec']).toEqual({ selfSigned: {} });
    const caCert = findObject(objects, 'Certificate', `${SERVICE}-ca`)['spec'] as any;
    expect(caCert).toMatchObject({ isCA: true, secretName: `${SERVICE}-ca`, issuerRef: { name: `${SERVICE}-selfsigned`, kind: 'Issuer' } });
    const caIssuer = findObject(objects, 'Issuer', `${SERVICE}-ca`);
    expect(caIssuer['spec']).toEqual({ ca: { secretName: caCert.secretName } });
    const serving = findObject(objects, 'Certificate', SERVICE)['spec'] as any;
    expect(serving.issuerRef).toEqual({ name: `${SERVICE}-ca`, kind: 'Issuer', group: 'cert-manager.io' });
    expect(serving.dnsNames).toEqual(DNS_NAMES);
    expect(serving.usages).toContain('server auth');
  });

  it('has the CA injected from the serving Certificate, whose Secret the pods mount', () => {
    const mwc = findObject(objects, 'MutatingWebhookConfiguration');
    expect(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(`${NS}/${SERVICE}`);
    expect(webhookOf(objects)['clientConfig'].caBundle).toBeUndefined();
    const serving = findObject(objects, 'Certificate', SERVICE)['spec'] as any;
    const volume = (podOf(objects).spec['volumes'] as any[]).find((v) => v.name === 'tls');
    expect(volume.secret.secretName).toBe(serving.secretName);
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('uses a given issuer instead of its own CA chain', async () => {
    const own = await template({ values: { 'tls.mode': 'certManager', 'tls.certManager.issuerRef': { name: 'corp-ca', kind: 'ClusterIssuer' } } });
    expect(own.filter((o) => o.kind === 'Issuer')).toEqual([]);
    expect((findObject(own, 'Certificate')['spec'] as any).issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' });
  });
});

describe('TLS mode secret', () => {
  it('mounts the named Secret and trusts the given CA bundle', async () => {
    const pem = await realCaPem();
    const objects = await template({ values: { 'tls.mode': 'secret', 'tls.secret.name': USER_TLS_SECRET, 'tls.secret.caBundle': pem } });
    expect(b64(webhookOf(objects)['clientConfig'].caBundle)).toBe(pem);
    const volume = (podOf(objects).spec['volumes'] as any[]).find((v) => v.name === 'tls');
    expect(volume.secret.secretName).toBe(USER_TLS_SECRET);
    expect(objects.some((o) => o.kind === 'Secret' || o.apiVersion.startsWith('cert-manager.io'))).toBe(false);
  });
});

describe('ServiceMonitor', () => {
  it('is off by default', () => {
    expect(defaults.some((o) => o.kind === 'ServiceMonitor')).toBe(false);
  });

  it('scrapes /metrics over HTTPS, verifying the webhook certificate with the CA from its Secret', async () => {
    const objects = await template({ values: { 'serviceMonitor.enabled': true, 'serviceMonitor.labels': { release: 'prom' } } });
    const sm = findObject(objects, 'ServiceMonitor');
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.metadata.labels?.['release']).toBe('prom');
    const spec = sm['spec'] as any;
    expect(spec.selector.matchLabels).toEqual((findObject(objects, 'Service')['spec'] as any).selector);
    expect(spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics', scheme: 'https' });
    expect(spec.endpoints[0].tlsConfig).toEqual({
      serverName: `${SERVICE}.${NS}.svc`,
      ca: { secret: { name: `${SERVICE}-tls`, key: 'ca.crt' } },
    });
  });
});
