// The review and pod schemas: what they accept, what they refuse and the field each refusal names,
// and that they return only what decisions read.
import { describe, expect, it } from 'vitest';
import { parseAdmissionReview, parsePod } from '../../webhook/src/admission/review.js';
import { loadPod, loadReview, podNames, type Json } from './fixtures.js';

type Spec = { containers: Json[]; volumes?: Json[] };
const review = () => loadReview('create-v1-binding');
const request = (r: Json) => r['request'] as Json;
const launcher = () => loadPod('launcher-v1-binding') as Json & { metadata: Json; spec: Spec };

/** The E_REVIEW_INVALID message for `value`, or 'ok'. */
function refusal(parse: () => unknown): string {
  try {
    parse();
    return 'ok';
  } catch (err) {
    expect(err).toMatchObject({ code: 'E_REVIEW_INVALID' });
    return (err as Error).message;
  }
}

describe('parseAdmissionReview', () => {
  it('returns the request of an AdmissionReview v1, its object unread', () => {
    const r = review();
    const req = parseAdmissionReview(r);
    expect(req.uid).toBe(request(r)['uid']);
    expect(req.kind).toEqual({ group: '', version: 'v1', kind: 'Pod' });
    expect(req.object).toBe(request(r)['object']);
  });

  it.each<[string, (r: Json) => unknown, string]>([
    ['a JSON array', () => [], 'body is not a JSON object; expected an AdmissionReview'],
    ['null', () => null, 'body is not a JSON object; expected an AdmissionReview'],
    ['v1beta1', (r) => ({ ...r, apiVersion: 'admission.k8s.io/v1beta1' }), 'got apiVersion "admission.k8s.io/v1beta1" kind "AdmissionReview"; only admission.k8s.io/v1 AdmissionReview is served (set admissionReviewVersions: ["v1"])'],
    ['another kind, and a bad request too', (r) => ({ ...r, kind: 'ConversionReview', request: {} }), 'got apiVersion "admission.k8s.io/v1" kind "ConversionReview"; only admission.k8s.io/v1 AdmissionReview is served (set admissionReviewVersions: ["v1"])'],
    ['no request', (r) => ({ ...r, request: undefined }), 'request: Invalid input: expected object, received undefined'],
    ['an empty uid', (r) => ({ ...r, request: { ...request(r), uid: '' } }), 'request.uid: expected a non-empty string'],
    ['no operation', (r) => ({ ...r, request: { ...request(r), operation: undefined } }), 'request.operation: Invalid input: expected string, received undefined'],
    ['a kind without its group', (r) => ({ ...r, request: { ...request(r), kind: { version: 'v1', kind: 'Pod' } } }), 'request.kind.group: Invalid input: expected string, received undefined'],
    ['a numeric username', (r) => ({ ...r, request: { ...request(r), userInfo: { username: 7 } } }), 'request.userInfo.username: Invalid input: expected string, received number'],
    ['dryRun as text', (r) => ({ ...r, request: { ...request(r), dryRun: 'true' } }), 'request.dryRun: Invalid input: expected boolean, received string'],
  ])('refuses %s, naming the field', (_case, make, message) => {
    expect(refusal(() => parseAdmissionReview(make(review())))).toBe(message);
  });

  it.each<[string, Json]>([
    ['null optional fields', { subResource: null, namespace: null, name: null, userInfo: null, dryRun: null }],
    ['no optional fields', { subResource: undefined, namespace: undefined, name: undefined, userInfo: undefined, dryRun: undefined }],
    ['an object that is not a pod at all', { object: 'not read here' }],
  ])('accepts %s', (_case, fields) => {
    const r = review();
    expect(refusal(() => parseAdmissionReview({ ...r, request: { ...request(r), ...fields } }))).toBe('ok');
  });
});

describe('parsePod', () => {
  it.each(podNames())('accepts the fixture %s', (name) => {
    expect(refusal(() => parsePod(loadPod(name)))).toBe('ok');
  });

  it.each<[string, (p: ReturnType<typeof launcher>) => void, string]>([
    ['no spec', (p) => delete (p as Json)['spec'], 'request.object.spec: Invalid input: expected object, received undefined'],
    ['no containers', (p) => delete (p.spec as Json)['containers'], 'request.object.spec.containers: Invalid input: expected array, received undefined'],
    ['a container without a name', (p) => delete p.spec.containers[1]?.['name'], 'request.object.spec.containers.1.name: Invalid input: expected string, received undefined'],
    ['a numeric env value', (p) => (p.spec.containers[1]?.['env'] as Json[]).push({ name: 'X', value: 42 }), 'request.object.spec.containers.1.env.2.value: Invalid input: expected string, received number'],
    ['a mount without a path', (p) => (p.spec.containers[0]?.['volumeMounts'] as Json[]).push({ name: 'x' }), 'request.object.spec.containers.0.volumeMounts.9.mountPath: Invalid input: expected string, received undefined'],
    ['a volume without a name', (p) => p.spec.volumes?.push({ emptyDir: {} }), 'request.object.spec.volumes.10.name: Invalid input: expected string, received undefined'],
    ['a numeric label', (p) => ((p.metadata['labels'] as Json)['x'] = 1), 'request.object.metadata.labels.x: Invalid input: expected string, received number'],
    ['an owner reference without a uid', (p) => delete (p.metadata['ownerReferences'] as Json[])[0]?.['uid'], 'request.object.metadata.ownerReferences.0.uid: Invalid input: expected string, received undefined'],
    ['controller as text', (p) => ((p.metadata['ownerReferences'] as Json[])[0] = { ...(p.metadata['ownerReferences'] as Json[])[0], controller: 'true' }), 'request.object.metadata.ownerReferences.0.controller: Invalid input: expected boolean, received string'],
  ])('refuses a pod with %s, naming the field', (_case, damage, message) => {
    const pod = launcher();
    damage(pod);
    expect(refusal(() => parsePod(pod))).toBe(message);
  });

  it('names where the pod came from', () => {
    expect(refusal(() => parsePod({}, '--pod pod.yaml'))).toBe('--pod pod.yaml.spec: Invalid input: expected object, received undefined');
  });

  it('leaves annotations unread: no decision reads them and they may be 256 KiB', () => {
    const pod = launcher();
    pod.metadata['annotations'] = { 'example.com/n': 1, 'example.com/big': 'x'.repeat(256 * 1024) };
    expect(refusal(() => parsePod(pod))).toBe('ok');
  });

  it('returns only the fields decisions read, volumes whole, and leaves the pod as it was', () => {
    const pod = launcher();
    pod.metadata['annotations'] = { 'example.com/a': 'b' };
    const sent = structuredClone(pod);
    const parsed = parsePod(pod);
    expect(pod).toEqual(sent);
    expect(Object.keys(parsed)).toEqual(['metadata', 'spec']);
    expect(Object.keys(parsed.metadata ?? {}).sort()).toEqual(['annotations', 'generateName', 'labels', 'namespace', 'ownerReferences']);
    // Passed through unread, the same object: the planner only asks whether there is one.
    expect(parsed.metadata?.annotations).toBe(pod.metadata['annotations']);
    expect(parsed.spec.containers.map((c) => Object.keys(c).sort())).toEqual([
      ['env', 'image', 'name', 'resources', 'securityContext', 'volumeMounts'],
      ['env', 'image', 'name', 'resources', 'securityContext', 'volumeMounts'],
    ]);
    expect(parsed.spec.containers[0]?.volumeMounts?.[0]).toEqual({ name: 'private', mountPath: '/var/run/kubevirt-private' });
    // A volume's source decides whether it can serve, whatever kind it is.
    expect(parsed.spec.volumes).toEqual(pod.spec.volumes);
  });
});
