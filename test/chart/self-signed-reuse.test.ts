// tls.mode selfSigned across upgrades: the chart looks up its own Secret and keeps the CA and
// certificate while they still fit, so upgrades do not swap the CA under running webhooks; when
// it must replace them, the webhook configuration trusts old and new CA for one release.
// Rendered with `helm template --dry-run=server` against the fake API server (see its header).
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findObject, template, type K8sObject } from '../helpers/helm.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';
import { webhookOf } from './scenarios.js';

const NOT_AFTER = 'kubevirt-vhostuser.io/not-after';
const DNS_NAMES = 'kubevirt-vhostuser.io/dns-names';

let server: FakeApiServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Renders as an upgrade would, with `existing` as the Secret in the cluster. */
async function upgradeWith(existing?: K8sObject): Promise<K8sObject[]> {
  server = await startFakeApiServer(existing);
  return template({ extraArgs: ['--dry-run=server', '--disable-openapi-validation', '--kubeconfig', server.kubeconfig] });
}

/** The Secret as the cluster would return it after an install by the same release. */
function asStored(secret: K8sObject, annotations: Record<string, string> = {}): K8sObject {
  const stored = structuredClone(secret);
  stored.metadata.annotations = {
    ...stored.metadata.annotations,
    'meta.helm.sh/release-name': 'vhu',
    'meta.helm.sh/release-namespace': 'kubevirt-vhostuser',
    ...annotations,
  };
  return stored;
}

const dataOf = (objects: readonly K8sObject[]) => findObject(objects, 'Secret')['data'] as Record<string, string>;
const bundleCerts = (objects: readonly K8sObject[]) =>
  (Buffer.from(webhookOf(objects)['clientConfig'].caBundle, 'base64').toString('utf8')
    .match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? []).map((pem) => new X509Certificate(pem));
const caOf = (data: Record<string, string>) => new X509Certificate(Buffer.from(data['ca.crt'] ?? '', 'base64'));

describe('selfSigned TLS on upgrade', () => {
  let installed: K8sObject;
  const installedData = () => installed['data'] as Record<string, string>;
  beforeAll(async () => {
    // A first install: nothing to look up, so fresh material.
    installed = findObject(await upgradeWith(), 'Secret');
    await server?.close();
    server = undefined;
  });

  it('looks the Secret up in the release namespace', async () => {
    await upgradeWith();
    expect(server?.requests).toContain('/api/v1/namespaces/kubevirt-vhostuser/secrets/vhu-kubevirt-vhostuser-tls');
  });

  it('keeps CA, certificate, key and expiry when the Secret still fits', async () => {
    const objects = await upgradeWith(asStored(installed));
    const secret = findObject(objects, 'Secret');
    expect(secret['data']).toEqual(installed['data']);
    expect(secret.metadata.annotations?.[NOT_AFTER]).toBe(installed.metadata.annotations?.[NOT_AFTER]);
    expect(bundleCerts(objects).map((c) => c.fingerprint256)).toEqual([caOf(dataOf(objects)).fingerprint256]);
  });

  it.each<[string, Record<string, string>]>([
    // The Service was renamed (fullnameOverride, namespace): the old certificate does not cover it.
    ['it was issued for other DNS names', { [DNS_NAMES]: 'old-name,old-name.ns,old-name.ns.svc' }],
    // Within renewBeforeDays (180) of expiry.
    ['it expires within the renewal window', { [NOT_AFTER]: String(Math.floor(Date.now() / 1000) + 10 * 86400) }],
    // Written by something that did not record an expiry.
    ['it carries no recorded expiry', { [NOT_AFTER]: '' }],
  ])('replaces the material when %s, trusting old and new CA meanwhile', async (_case, annotations) => {
    const objects = await upgradeWith(asStored(installed, annotations));
    const data = dataOf(objects);
    expect(data['ca.crt']).not.toBe(installedData()['ca.crt']);
    expect(data['tls.key']).not.toBe(installedData()['tls.key']);
    const bundle = bundleCerts(objects).map((c) => c.fingerprint256);
    expect(bundle).toEqual([caOf(data).fingerprint256, caOf(installedData()).fingerprint256]);
  });

  it('regenerates an incomplete Secret without trusting a CA it does not have', async () => {
    const broken = asStored(installed);
    const { 'ca.crt': _dropped, ...rest } = installedData();
    broken['data'] = rest;
    const objects = await upgradeWith(broken);
    expect(dataOf(objects)['tls.crt']).not.toBe(installedData()['tls.crt']);
    expect(bundleCerts(objects)).toHaveLength(1);
  });
});
