// Every way we know to ask for the ovs-run-dir hostPath without being KubeVirt's controller
// creating a launcher pod, in both modes (warn, --deny-forged), on pods that get the hostPath
// when the request is genuine. None may get a patch. Prints the count of refused attempts.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPod } from '../webhook/fixtures.js';
import { KUBEVIRT_CONTROLLER, figure, grantsHostPath, harness, patchOps, reviewOf, type Harness, type Json } from './helpers.js';

type Review = Json & { request: Json & { object: Json & { metadata: Json; spec: Json }; userInfo?: Json } };

const GENUINE_PODS = [
  { pod: 'launcher-v1-binding', namespace: 'tests' }, // evidence: the binding sidecar
  { pod: 'launcher-v0.53-vhostuser', namespace: 'default' }, // evidence: the VMI, looked up
] as const;
const ATTACKER = 'system:serviceaccount:tests:default';
const VMI_OWNER = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', name: 'vm-trex-1', uid: '0b2d6f7e-3c57-4a40-9f0e-6c1d2a7b8e90', controller: true };

const meta = (r: Review) => r.request.object.metadata;
const user = (name: string | undefined, extra: Json = {}) => (r: Review) => {
  r.request.userInfo = { ...(name === undefined ? {} : { username: name }), groups: ['system:authenticated'], ...extra };
};
const owners = (refs: Json[]) => (r: Review) => void (meta(r)['ownerReferences'] = refs);
const label = (value: string | undefined) => (r: Review) => {
  const labels = meta(r)['labels'] as Json;
  if (value === undefined) delete labels['kubevirt.io'];
  else labels['kubevirt.io'] = value;
};
const set = (field: string, value: unknown) => (r: Review) => void (r.request[field] = value);
const all = (...fs: ((r: Review) => void)[]) => (r: Review) => fs.forEach((f) => f(r));

// [what is tried, how the review is changed]. Owner and label cases keep the controller's identity,
// so each check is shown to hold on its own.
const ATTEMPTS: [string, (r: Review) => void][] = [
  ['label only, no owner, a namespace service account', all(owners([]), user(ATTACKER))],
  ['label and VMI owner, a namespace service account', user(ATTACKER)],
  ['label and VMI owner, a person', user('jane')],
  ['label and VMI owner, an admin of system:masters', user('kubernetes-admin', { groups: ['system:masters', 'system:authenticated'] })],
  ["KubeVirt's namespace, another service account", user('system:serviceaccount:kubevirt:virt-handler')],
  ["KubeVirt's namespace, its default service account", user('system:serviceaccount:kubevirt:default')],
  ['the controller SA name in another namespace', user('system:serviceaccount:tests:kubevirt-controller')],
  ['the controller identity with a trailing space', user(`${KUBEVIRT_CONTROLLER} `)],
  ['the controller identity in upper case', user(KUBEVIRT_CONTROLLER.toUpperCase())],
  ['the controller identity with a Cyrillic o', user(KUBEVIRT_CONTROLLER.replace('controller', 'c\u043entroller'))],
  ['the controller identity plus a suffix', user(`${KUBEVIRT_CONTROLLER}-x`)],
  ['the controller identity with a NUL inside', user(KUBEVIRT_CONTROLLER.replace(':kubevirt-', ':kubevirt\u0000-'))],
  ['the bare SA name', user('kubevirt-controller')],
  ['the controller identity as a group only', user('jane', { groups: [KUBEVIRT_CONTROLLER, 'system:serviceaccounts:kubevirt'] })],
  ['the controller identity in userInfo.extra', user('jane', { extra: { 'authentication.kubernetes.io/credential-id': [KUBEVIRT_CONTROLLER] } })],
  ['no username', user(undefined)],
  ['an empty username', user('')],
  ['a null username', (r) => void (r.request.userInfo = { username: null })],
  ['no userInfo at all', (r) => void delete r.request['userInfo']],
  ['owner of kind VirtualMachine', owners([{ ...VMI_OWNER, kind: 'VirtualMachine' }])],
  ['owner kind in lower case', owners([{ ...VMI_OWNER, kind: 'virtualmachineinstance' }])],
  ['VMI owner of another API group', owners([{ ...VMI_OWNER, apiVersion: 'kubevirt.io.evil.example/v1' }])],
  ['VMI owner of an unknown version', owners([{ ...VMI_OWNER, apiVersion: 'kubevirt.io/v2' }])],
  ['VMI owner without a version', owners([{ ...VMI_OWNER, apiVersion: 'kubevirt.io' }])],
  ['owner of kind Pod', owners([{ ...VMI_OWNER, apiVersion: 'v1', kind: 'Pod' }])],
  ['VMI owner that is not the controller', owners([{ ...VMI_OWNER, controller: false }])],
  ['VMI owner without the controller flag', owners([{ ...VMI_OWNER, controller: undefined }])],
  ['VMI owner behind a ReplicaSet controller', owners([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true }, VMI_OWNER])],
  ['launcher label in another case', label('Virt-Launcher')],
  ['launcher label with a space', label('virt-launcher ')],
  ['no launcher label', label(undefined)],
  ['UPDATE of an existing pod', all(set('operation', 'UPDATE'), set('oldObject', {}))],
  ['operation in lower case', set('operation', 'create')],
  ['CONNECT', set('operation', 'CONNECT')],
  ['a subresource (ephemeralcontainers)', all(set('operation', 'UPDATE'), set('subResource', 'ephemeralcontainers'))],
  ['a subresource on CREATE (binding)', set('subResource', 'binding')],
  ['a Pod kind of another group', set('kind', { group: 'apps', version: 'v1', kind: 'Pod' })],
  ['a server-side dry run by a namespace service account', all(set('dryRun', true), user(ATTACKER))],
  [
    'an ovs-run-dir-like hostPath under another name, a namespace service account',
    all(user(ATTACKER), (r) => {
      const spec = r.request.object.spec;
      spec['volumes'] = [...((spec['volumes'] as Json[] | undefined) ?? []), { name: 'my-ovs', hostPath: { path: '/var/run/openvswitch/' } }];
      const compute = (spec['containers'] as Json[])[0] as Json;
      compute['volumeMounts'] = [...((compute['volumeMounts'] as Json[] | undefined) ?? []), { name: 'my-ovs', mountPath: '/var/run/openvswitch/' }];
    }),
  ],
  [
    'NETWORK_BINDING_PLUGIN_NAME on a pod that is no launcher',
    all(user(ATTACKER), label(undefined), owners([]), (r) => {
      const compute = (r.request.object.spec['containers'] as Json[])[0] as Json;
      compute['env'] = [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }];
    }),
  ],
  ['NETWORK_BINDING_PLUGIN_NAME on a launcher-labelled pod of a namespace service account', all(user(ATTACKER), owners([]))],
];

// Bodies the API server never sends: prototype pollution of the identity or the labels.
const RAW_ATTEMPTS: [string, (text: string) => string][] = [
  ['__proto__ carrying the controller identity', (t) => t.replace(`"username":"${ATTACKER}"`, `"username":"${ATTACKER}","__proto__":{"username":"${KUBEVIRT_CONTROLLER}"}`)],
  ['constructor.prototype carrying the controller identity', (t) => t.replace(`"username":"${ATTACKER}"`, `"username":"${ATTACKER}","constructor":{"prototype":{"username":"${KUBEVIRT_CONTROLLER}"}}`)],
  ['__proto__ carrying the launcher label', (t) => t.replace('"labels":{', `"labels":{"__proto__":{"kubevirt.io":"virt-launcher"},`)],
];

const MODES: { flags: string[] }[] = [{ flags: [] }, { flags: ['--deny-forged'] }];
const opened: Harness[] = [];
let refused = 0;
let tried = 0;

function forged(pod: string, namespace: string, change: (r: Review) => void): Review {
  const review = reviewOf(pod, { namespace }) as Review;
  change(review);
  return review;
}

/** Sends one attempt; expects a valid answer without a patch, and counts the refusal. */
async function expectRefused(h: Harness, payload: string, status = 200): Promise<void> {
  const res = await h.post(payload);
  tried++;
  expect(res.status).toBe(status);
  if (status === 200) expect(res.body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  else expect(res.body).toMatchObject({ statusCode: status, code: 'E_REVIEW_INVALID' });
  expect(patchOps(res.body)).toEqual([]);
  refused++;
}

afterAll(async () => {
  figure('forgery: attempts refused', `${refused} of ${tried} (${ATTEMPTS.length + RAW_ATTEMPTS.length} kinds x ${GENUINE_PODS.length} pods x ${MODES.length} modes, + property runs below)`);
  await Promise.all(opened.map((h) => h.close()));
});

describe.each(MODES)('forged requests for the hostPath (flags: $flags)', ({ flags }) => {
  const h = harness(flags);
  opened.push(h);

  it.each(GENUINE_PODS)('gives the genuine $pod the hostPath (the control)', async ({ pod, namespace }) => {
    const res = await h.post(JSON.stringify(reviewOf(pod, { namespace })));
    expect(grantsHostPath(patchOps(res.body))).toBe(true);
  });

  describe.each(GENUINE_PODS)('on $pod', ({ pod, namespace }) => {
    it.each(ATTEMPTS)('refuses %s', async (_what, change) => {
      await expectRefused(h, JSON.stringify(forged(pod, namespace, change)));
    });

    it.each(RAW_ATTEMPTS)('refuses %s', async (_what, edit) => {
      const text = edit(JSON.stringify(forged(pod, namespace, user(ATTACKER))));
      expect(text).not.toBe(JSON.stringify(forged(pod, namespace, user(ATTACKER))));
      await expectRefused(h, text, 400);
    });
  });

  it('counts the labelled forgeries in hostpath_refused_total', async () => {
    const text = await h.metrics.registry.getSingleMetricAsString('kubevirt_vhostuser_webhook_hostpath_refused_total');
    expect(text).toMatch(/reason="user"\} [1-9]/);
    expect(text).toMatch(/reason="owner"\} [1-9]/);
  });
});

describe('forgery (property)', () => {
  const h = harness();
  opened.push(h);
  const base = loadPod('launcher-v1-binding');
  const ref = fc.record({
    apiVersion: fc.constantFrom('kubevirt.io/v1', 'kubevirt.io/v1alpha3', 'kubevirt.io/v2', 'apps/v1', 'v1'),
    kind: fc.constantFrom('VirtualMachineInstance', 'VirtualMachine', 'ReplicaSet', 'Pod'),
    name: fc.constantFrom('vhostuser-vm', 'other'),
    uid: fc.constant('5f3c8a8e-6b1d-4d36-9c55-2b7a1f0e9d41'),
    controller: fc.constantFrom(true, false, undefined),
  });
  const request = fc.record({
    username: fc.oneof(fc.constantFrom(KUBEVIRT_CONTROLLER, ATTACKER, 'system:serviceaccount:tests:kubevirt-controller', `${KUBEVIRT_CONTROLLER} `), fc.string()),
    labelValue: fc.oneof(fc.constantFrom('virt-launcher', 'Virt-Launcher', undefined), fc.string()),
    refs: fc.array(ref, { maxLength: 3 }),
    operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'create'),
    subResource: fc.constantFrom(undefined, '', 'status', 'ephemeralcontainers'),
    dryRun: fc.boolean(),
  });

  it('grants the hostPath exactly when the identity, the label, the controller VMI owner and CREATE all hold', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(request, async (q) => {
        runs++;
        const pod = structuredClone(base);
        const m = pod['metadata'] as Json;
        if (q.labelValue === undefined) delete (m['labels'] as Json)['kubevirt.io'];
        else (m['labels'] as Json)['kubevirt.io'] = q.labelValue;
        m['ownerReferences'] = q.refs.map((r) => JSON.parse(JSON.stringify(r)) as Json);
        const review = reviewOf(pod, { user: q.username, operation: q.operation, dryRun: q.dryRun }) as Review;
        if (q.subResource !== undefined) review.request['subResource'] = q.subResource;

        const controller = q.refs.find((r) => r.controller === true);
        const genuine =
          q.username === KUBEVIRT_CONTROLLER &&
          q.labelValue === 'virt-launcher' &&
          controller?.kind === 'VirtualMachineInstance' &&
          ['kubevirt.io/v1', 'kubevirt.io/v1alpha3'].includes(controller.apiVersion) &&
          q.operation === 'CREATE' &&
          (q.subResource ?? '') === '';
        const res = await h.post(JSON.stringify(review));
        expect(res.status).toBe(200);
        expect(grantsHostPath(patchOps(res.body))).toBe(genuine);
      }),
      { numRuns: 400 },
    );
    figure('forgery: property runs (hostPath iff genuine)', runs);
  });
});
