// What a patch says about itself: the pod's kubevirt-vhostuser.io/mutation annotation (version
// and volumes added, applied by fast-json-patch and `kubectl patch --local`) and the response's
// auditAnnotations (keys the API server accepts, what was added, on which evidence). And the
// attacks: a VMI owner writes any VMI annotation and KubeVirt copies it onto the launcher pod, so
// a pod may arrive carrying our annotation; it must neither skip the mutation nor survive it.
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../webhook/src/app.js';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { createMetrics } from '../../webhook/src/metrics.js';
import { AUDIT_KEYS, MUTATION_ANNOTATION } from '../../webhook/src/mutate/mark.js';
import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import { findObject, template } from '../helpers/helm.js';
import { kubectlPatchLocal, requireKubectl } from '../helpers/kubectl.js';
import { validatePod } from '../helpers/pod-schema.js';
import { fixtureLookups, loadReview, type Json } from './fixtures.js';

const app = buildApp(parseWebhookArgs(['--dev-cert', '--log-level', 'silent']), { lookups: fixtureLookups(), metrics: createMetrics() });
afterAll(() => app.close());
beforeAll(() => {
  requireKubectl();
});

interface Response {
  allowed: boolean;
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

async function admit(review: Json): Promise<Response> {
  const res = await app.inject({ method: 'POST', url: '/mutate', payload: review });
  expect(res.statusCode).toBe(200);
  return (res.json() as { response: Response }).response;
}

const podOf = (review: Json) => (review['request'] as Json)['object'] as Json;
const metaOf = (pod: Json) => pod['metadata'] as Json & { annotations?: Record<string, unknown> | null };

/** The review of `name` with the pod's metadata.annotations replaced (deleted when `annotations` is undefined). */
function withAnnotations(name: string, annotations: unknown): Json {
  const review = structuredClone(loadReview(name));
  const meta = metaOf(podOf(review));
  if (annotations === undefined) delete meta.annotations;
  else meta['annotations'] = annotations as Record<string, unknown>;
  return review;
}

async function patchedBoth(review: Json, response: Response): Promise<Json> {
  const ops = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as fastJsonPatch.Operation[];
  const pod = podOf(review);
  const byLibrary = fastJsonPatch.applyPatch(structuredClone(pod), structuredClone(ops), true, false).newDocument as Json;
  const byKubectl = await kubectlPatchLocal(pod, ops);
  expect(byKubectl['metadata']).toEqual(byLibrary['metadata']);
  expect(byKubectl['spec']).toEqual(byLibrary['spec']);
  validatePod(byKubectl);
  return byKubectl;
}

// IsQualifiedName's name part (k8s.io/apimachinery/pkg/util/validation), which the API server
// applies to `<webhook name>/<key>` (k8s.io/apiserver/pkg/admission/audit.go checkKeyFormat).
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('the mutation annotation', () => {
  it('names the version and the volumes added, on a pod that had annotations, a pod that had none, and one whose annotations were null', async () => {
    const original = metaOf(podOf(loadReview('create-v1-binding'))).annotations ?? {};
    for (const annotations of [original, undefined, null]) {
      const review = withAnnotations('create-v1-binding', annotations);
      const pod = await patchedBoth(review, await admit(review));
      const meta = metaOf(pod);
      const { [MUTATION_ANNOTATION]: mark, ...rest } = meta.annotations ?? {};
      expect(JSON.parse(String(mark))).toEqual({ webhook: WEBHOOK_VERSION, volumes: ['shared-dir', 'ovs-run-dir', 'podinfo'] });
      expect(rest).toEqual(annotations ?? {});
    }
  });

  it('names only the volumes this patch added (network-resources-injector brought podinfo)', async () => {
    const review = loadReview('nri-podnetinfo');
    const pod = await patchedBoth(review, await admit(review));
    expect(JSON.parse(String(metaOf(pod).annotations?.[MUTATION_ANNOTATION]))).toEqual({ webhook: WEBHOOK_VERSION, volumes: ['shared-dir', 'ovs-run-dir'] });
  });

  it('is no reason to skip: a pod that arrives claiming to be mutated is patched, and the claim replaced by the truth', async () => {
    const lie = JSON.stringify({ webhook: WEBHOOK_VERSION, volumes: ['shared-dir', 'ovs-run-dir', 'podinfo'] });
    for (const value of [lie, 'true', '', '{"webhook":"9.9.9","volumes":[]}']) {
      const review = withAnnotations('create-v1-binding', { ...metaOf(podOf(loadReview('create-v1-binding'))).annotations, [MUTATION_ANNOTATION]: value });
      const response = await admit(review);
      expect(response.patch, `annotation ${JSON.stringify(value)}`).toBeDefined();
      const pod = await patchedBoth(review, response);
      const spec = pod['spec'] as { volumes: { name: string }[] };
      expect(spec.volumes.map((v) => v.name)).toEqual(expect.arrayContaining(['shared-dir', 'ovs-run-dir', 'podinfo']));
      expect(JSON.parse(String(metaOf(pod).annotations?.[MUTATION_ANNOTATION]))).toEqual({ webhook: WEBHOOK_VERSION, volumes: ['shared-dir', 'ovs-run-dir', 'podinfo'] });
      // The patched pod, run again, gets nothing more (decided from its volumes).
      const again = await admit({ ...review, request: { ...(review['request'] as Json), object: pod } });
      expect(again.patch).toBeUndefined();
    }
  });

  it('is never added to a pod the webhook does not patch, nor does it make one need vhost-user', async () => {
    for (const name of ['non-launcher', 'already-mutated', 'forged-user']) {
      const review = withAnnotations(name, { [MUTATION_ANNOTATION]: JSON.stringify({ webhook: WEBHOOK_VERSION, volumes: [] }) });
      const response = await admit(review);
      expect(response.patch, name).toBeUndefined();
    }
  });
});

describe('auditAnnotations', () => {
  it('say what a patch added, on which evidence, by which version, under keys the API server accepts', async () => {
    const response = await admit(loadReview('create-v1-binding'));
    expect(response.auditAnnotations).toEqual({
      [AUDIT_KEYS.volumes]: 'shared-dir,ovs-run-dir,podinfo',
      [AUDIT_KEYS.containers]: 'compute,hook-sidecar-0',
      [AUDIT_KEYS.evidence]: 'container "hook-sidecar-0" serves binding "vhostuser"',
      [AUDIT_KEYS.version]: WEBHOOK_VERSION,
    });
  });

  it('name the failed check of a forged launcher pod, warned or denied', async () => {
    expect((await admit(loadReview('forged-user'))).auditAnnotations).toEqual({ [AUDIT_KEYS.forged]: 'user' });
    expect((await admit(loadReview('forged-owner'))).auditAnnotations).toEqual({ [AUDIT_KEYS.forged]: 'owner' });
    const denying = buildApp(parseWebhookArgs(['--dev-cert', '--log-level', 'silent', '--deny-forged']), { lookups: fixtureLookups(), metrics: createMetrics() });
    try {
      const res = await denying.inject({ method: 'POST', url: '/mutate', payload: loadReview('forged-user') });
      expect((res.json() as { response: Response }).response).toMatchObject({ allowed: false, auditAnnotations: { [AUDIT_KEYS.forged]: 'user' } });
    } finally {
      await denying.close();
    }
  });

  it('are absent when nothing was done', async () => {
    for (const name of ['non-launcher', 'already-mutated', 'not-a-pod']) expect((await admit(loadReview(name))).auditAnnotations, name).toBeUndefined();
  });

  it('have keys that are qualified names once prefixed with the webhook name the chart renders', async () => {
    const config = findObject(await template(), 'MutatingWebhookConfiguration') as unknown as { webhooks: { name: string }[] };
    expect(config.webhooks).toHaveLength(1);
    const WEBHOOK_NAME = config.webhooks[0]?.name ?? '';
    expect(WEBHOOK_NAME.length).toBeLessThanOrEqual(253);
    expect(WEBHOOK_NAME).toMatch(DNS_SUBDOMAIN);
    for (const key of Object.values(AUDIT_KEYS)) {
      expect(key.length, key).toBeLessThanOrEqual(63);
      expect(key, key).toMatch(QUALIFIED_NAME_PART);
      expect(`${WEBHOOK_NAME}/${key}`.split('/')).toHaveLength(2);
    }
    // The checks themselves refuse what the API server refuses.
    for (const bad of ['a/b', '-a', 'a-', 'a b', 'x'.repeat(64), '']) expect(bad.length <= 63 && QUALIFIED_NAME_PART.test(bad), bad).toBe(false);
  });
});
