// Validates rendered objects: built-in kinds against the Kubernetes OpenAPI schemas shipped in
// kubernetes-models; the custom kinds the chart may render (cert-manager, Prometheus operator) are
// not in those schemas, so their required fields are checked by hand here. Pure.
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { K8sObject } from '../helpers/helm.js';

type Validator = (obj: K8sObject) => void;

// Each model's validate() throws an ajv error listing the offending paths.
const builtIn: Record<string, Validator> = {
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'v1/Secret': (o) => new Secret(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
  'v1/ServiceAccount': (o) => new ServiceAccount(o as never).validate(),
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as never).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never).validate(),
  'rbac.authorization.k8s.io/v1/ClusterRole': (o) => new ClusterRole(o as never).validate(),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': (o) => new ClusterRoleBinding(o as never).validate(),
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': (o) =>
    new MutatingWebhookConfiguration(o as never).validate(),
};

function get(obj: unknown, dotted: string): unknown {
  let cur = obj;
  for (const key of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function requireFields(obj: K8sObject, fields: Record<string, 'string' | 'object' | 'array' | 'boolean'>): void {
  for (const [field, type] of Object.entries(fields)) {
    const value = get(obj, field);
    const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
    if (actual !== type) throw new Error(`${field} must be ${type}, got ${actual}`);
    if (type === 'string' && value === '') throw new Error(`${field} must not be empty`);
  }
}

// Hand-written: the fields cert-manager.io/v1 and monitoring.coreos.com/v1 CRDs require, plus the
// ones this chart relies on (an Issuer must be of exactly one type).
const custom: Record<string, Validator> = {
  'cert-manager.io/v1/Issuer': (o) => {
    const spec = (o['spec'] ?? {}) as Record<string, unknown>;
    const types = ['selfSigned', 'ca', 'acme', 'vault', 'venafi'].filter((t) => t in spec);
    if (types.length !== 1) throw new Error(`spec must have exactly one issuer type, has [${types.join(', ')}]`);
    if ('ca' in spec) requireFields(o, { 'spec.ca.secretName': 'string' });
  },
  'cert-manager.io/v1/Certificate': (o) => {
    requireFields(o, { 'spec.secretName': 'string', 'spec.issuerRef': 'object', 'spec.issuerRef.name': 'string' });
    const spec = o['spec'] as Record<string, unknown>;
    const isCA = spec['isCA'] === true;
    if (!isCA) requireFields(o, { 'spec.dnsNames': 'array' });
    if (isCA) requireFields(o, { 'spec.commonName': 'string', 'spec.isCA': 'boolean' });
  },
  // The Prometheus operator's own CRD schema, as @kubernetes-models/prometheus-operator ships it.
  'monitoring.coreos.com/v1/PrometheusRule': (o) => new PrometheusRule(o as never).validate(),
  'monitoring.coreos.com/v1/ServiceMonitor': (o) => {
    requireFields(o, { 'spec.selector': 'object', 'spec.endpoints': 'array' });
    for (const ep of get(o, 'spec.endpoints') as unknown[]) {
      if (typeof get(ep, 'port') !== 'string') throw new Error('every spec.endpoints[] needs a named port');
    }
  },
};

/** Throws `<kind>/<name>: <reason>` when the object is invalid or of a kind this chart should not render. */
export function validateObject(obj: K8sObject): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const validator = builtIn[key] ?? custom[key];
  const where = `${obj.kind}/${obj.metadata?.name ?? '<no name>'}`;
  if (validator === undefined) throw new Error(`${where}: no validator for ${key}; add one before rendering it`);
  requireFields(obj, { 'metadata.name': 'string' });
  try {
    validator(obj);
  } catch (err) {
    throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const isCustomKind = (obj: K8sObject): boolean => `${obj.apiVersion}/${obj.kind}` in custom;
