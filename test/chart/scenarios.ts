// The value sets the chart tests render: one per TLS mode, plus one with every webhook setting
// moved off its default. Shared by the render, webhook-config and flag tests.
import { findObject, template, type K8sObject, type RenderOptions } from '../helpers/helm.js';

export type Values = NonNullable<RenderOptions['values']>;

export const USER_TLS_SECRET = 'corp-webhook-tls';

/** A real PEM CA for tls.mode secret: the one the chart itself generates in selfSigned mode. */
export async function realCaPem(): Promise<string> {
  const secret = findObject(await template(), 'Secret');
  const data = secret['data'] as Record<string, string>;
  return Buffer.from(data['ca.crt'] ?? '', 'base64').toString('utf8');
}

export function tlsModes(caPem: string): Record<string, Values> {
  return {
    selfSigned: {},
    certManager: { 'tls.mode': 'certManager' },
    'certManager with own issuer': {
      'tls.mode': 'certManager',
      'tls.certManager.issuerRef': { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' },
    },
    secret: { 'tls.mode': 'secret', 'tls.secret.name': USER_TLS_SECRET, 'tls.secret.caBundle': caPem },
  };
}

/** Every webhook setting changed, so a flag the CLI does not know cannot hide behind a default. */
export const nonDefaultWebhook: Values = {
  'webhook.port': 9443,
  'webhook.metricsPort': 9444,
  'webhook.listenHost': '[::]',
  'webhook.failurePolicy': 'Ignore',
  'webhook.timeoutSeconds': 30,
  'webhook.lookupTimeoutMs': 25000,
  'webhook.excludeNamespaces': ['kube-system', 'openshift-cnv'],
  'webhook.controllerIdentities': [
    'system:serviceaccount:openshift-cnv:kubevirt-controller',
    'system:serviceaccount:kubevirt:kubevirt-controller',
  ],
  'webhook.bindingNames': ['vhostuser', 'dpdk'],
  'webhook.denyForged': true,
  'webhook.offline': true,
  'webhook.bodyLimitBytes': 4194304,
  'webhook.maxInflightBodyBytes': 33554432,
  'webhook.maxNadLookups': 4,
  'webhook.logLevel': 'debug',
  'webhook.volumes': {
    sharedDir: { name: 'usrcni', mountPath: '/var/lib/cni/usrspcni/' },
    ovsRunDir: { name: 'ovs-run', hostPath: '/run/openvswitch', mountPath: '/run/openvswitch', writable: true },
    podinfo: { name: 'podnetinfo', mountPath: '/etc/podnetinfo', inSidecars: false },
  },
  // Inside the OVS run directory too, which its writable mount above allows.
  'sidecar.socketDirs': ['/var/run/vhost-sockets', '/run/openvswitch/vhost_sockets/'],
  'sidecar.socketGroup': 2001,
};

export function deploymentOf(objects: readonly K8sObject[]): K8sObject {
  return findObject(objects, 'Deployment');
}

/** The pod template's spec and its only container, typed loosely for field assertions. */
export function podOf(objects: readonly K8sObject[]): { spec: Record<string, any>; container: Record<string, any> } {
  const spec = (deploymentOf(objects)['spec'] as any).template.spec as Record<string, any>;
  const containers = spec['containers'] as Record<string, any>[];
  if (containers.length !== 1) throw new Error(`expected one container, found ${containers.length}`);
  return { spec, container: containers[0] as Record<string, any> };
}

export function webhookOf(objects: readonly K8sObject[]): Record<string, any> {
  const mwc = findObject(objects, 'MutatingWebhookConfiguration');
  const hooks = mwc['webhooks'] as Record<string, any>[];
  if (hooks.length !== 1) throw new Error(`expected one webhook, found ${hooks.length}`);
  return hooks[0] as Record<string, any>;
}
