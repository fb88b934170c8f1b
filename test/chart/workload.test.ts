// The webhook Deployment, its PodDisruptionBudget, Service and RBAC as rendered: hardening,
// probes, spreading, the TLS mount, and least-privilege access.
import { beforeAll, describe, expect, it } from 'vitest';
import { findObject, template, type K8sObject } from '../helpers/helm.js';
import { podOf } from './scenarios.js';

let defaults: K8sObject[];
beforeAll(async () => {
  defaults = await template();
});

describe('webhook Deployment', () => {
  it('runs two replicas and never rolls below them', () => {
    const spec = findObject(defaults, 'Deployment')['spec'] as any;
    expect(spec.replicas).toBe(2);
    expect(spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });

  it('hardens the pod and the container', () => {
    const { spec, container } = podOf(defaults);
    expect(spec['securityContext']).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container['securityContext']).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec['hostNetwork']).toBeUndefined();
  });

  it('leaves the IDs to the platform when they are null (OpenShift SCCs), hardening intact', async () => {
    const { spec, container } = podOf(await template({ values: { runAsUser: null, runAsGroup: null, fsGroup: null } }));
    expect(spec['securityContext']).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container['securityContext'].readOnlyRootFilesystem).toBe(true);
  });

  it('sets resource requests and limits', () => {
    const { container } = podOf(defaults);
    expect(Object.keys(container['resources'].requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container['resources'].limits).sort()).toEqual(['cpu', 'memory']);
  });

  it('probes /healthz and /readyz over HTTPS on the serving port', () => {
    const { container } = podOf(defaults);
    expect(container['ports']).toEqual([
      { name: 'https', containerPort: 8443, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8444, protocol: 'TCP' },
    ]);
    expect(container['livenessProbe'].httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(container['readinessProbe'].httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });
  });

  it('mounts the TLS Secret as a whole directory, so renewed files reach the running webhook', () => {
    const { spec, container } = podOf(defaults);
    const mount = (container['volumeMounts'] as any[]).find((m) => m.name === 'tls');
    expect(mount).toEqual({ name: 'tls', mountPath: '/etc/kubevirt-vhostuser/tls', readOnly: true });
    const volume = (spec['volumes'] as any[]).find((v) => v.name === 'tls');
    // 0440, read as the API server reads it.
    expect(volume.secret).toEqual({ secretName: 'vhu-kubevirt-vhostuser-tls', defaultMode: 0o440 });
    const args = container['args'] as string[];
    expect(args).toContain('--tls-cert=/etc/kubevirt-vhostuser/tls/tls.crt');
    expect(args).toContain('--tls-key=/etc/kubevirt-vhostuser/tls/tls.key');
  });

  it('does not restart pods on certificate changes: no checksum annotation', () => {
    const meta = (findObject(defaults, 'Deployment')['spec'] as any).template.metadata;
    expect(meta.annotations).toBeUndefined();
  });

  it('spreads replicas across nodes softly', () => {
    const { spec } = podOf(defaults);
    expect(spec['topologySpreadConstraints']).toEqual([
      expect.objectContaining({ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway' }),
    ]);
    const preferred = spec['affinity'].podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    expect(preferred[0].podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(spec['affinity'].podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    const selector = findObject(defaults, 'Deployment')['spec'] as any;
    expect(spec['topologySpreadConstraints'][0].labelSelector.matchLabels).toEqual(selector.selector.matchLabels);
  });

  it('uses the image tag from appVersion, or a digest when given', async () => {
    expect(podOf(defaults).container['image']).toBe('ghcr.io/kubevirt-vhostuser/kubevirt-vhostuser:0.1.0');
    const digest = `sha256:${'a'.repeat(64)}`;
    const pinned = await template({ values: { 'image.digest': digest, 'image.tag': '9.9.9' } });
    expect(podOf(pinned).container['image']).toBe(`ghcr.io/kubevirt-vhostuser/kubevirt-vhostuser@${digest}`);
  });

  it('limits glibc to two malloc arenas, the only environment variable of the webhook (docs/benchmarks.md, "Webhook footprint")', () => {
    const { container } = podOf(defaults);
    expect(container['env']).toEqual([{ name: 'MALLOC_ARENA_MAX', value: '2' }]);
  });

  it('passes `webhook` as the first argument to the image entrypoint and sets no command', () => {
    const { container } = podOf(defaults);
    expect(container['command']).toBeUndefined();
    expect((container['args'] as string[])[0]).toBe('webhook');
  });

  it('mounts a service account token only when the webhook reads the API', async () => {
    expect(podOf(defaults).spec['automountServiceAccountToken']).toBe(true);
    const offline = await template({ values: { 'webhook.offline': true } });
    expect(podOf(offline).spec['automountServiceAccountToken']).toBe(false);
  });
});

describe('PodDisruptionBudget', () => {
  it('keeps one replica through voluntary disruptions, selecting the webhook pods', () => {
    const pdb = findObject(defaults, 'PodDisruptionBudget')['spec'] as any;
    const deployment = findObject(defaults, 'Deployment')['spec'] as any;
    expect(pdb.minAvailable).toBe(1);
    expect(pdb.selector).toEqual(deployment.selector);
  });

  it('is left out with a single replica, where it would block node drains', async () => {
    const single = await template({ values: { replicaCount: 1 } });
    expect(single.some((o) => o.kind === 'PodDisruptionBudget')).toBe(false);
  });
});

describe('Service', () => {
  it('forwards port 443 to the named https port of the webhook pods, and the metrics port to theirs', () => {
    const spec = findObject(defaults, 'Service')['spec'] as any;
    expect(spec.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
      { name: 'metrics', port: 8444, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    expect(spec.selector).toEqual((findObject(defaults, 'Deployment')['spec'] as any).selector.matchLabels);
  });
});

describe('RBAC', () => {
  it('grants get/list/watch on VMIs and NetworkAttachmentDefinitions and nothing else', () => {
    const role = findObject(defaults, 'ClusterRole');
    expect(role['rules']).toEqual([
      { apiGroups: ['kubevirt.io'], resources: ['virtualmachineinstances'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['k8s.cni.cncf.io'], resources: ['network-attachment-definitions'], verbs: ['get', 'list', 'watch'] },
    ]);
    expect(role['aggregationRule']).toBeUndefined();
  });

  it('binds the role to the webhook service account only', () => {
    const binding = findObject(defaults, 'ClusterRoleBinding');
    const sa = findObject(defaults, 'ServiceAccount');
    expect(binding['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'vhu-kubevirt-vhostuser' });
    expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'kubevirt-vhostuser' }]);
    expect(podOf(defaults).spec['serviceAccountName']).toBe(sa.metadata.name);
  });

  it('creates no Role, ClusterRole or binding when offline or when rbac.create is false', async () => {
    for (const values of [{ 'webhook.offline': true }, { 'rbac.create': false }]) {
      const kinds = (await template({ values })).map((o) => o.kind);
      expect(kinds.filter((k) => /Role/.test(k))).toEqual([]);
    }
  });
});
