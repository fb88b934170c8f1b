// Test fixtures of the webhook: pods (fixtures/pods/), the API objects the lookups return
// (fixtures/admission-reviews/api/) and the AdmissionReview cases built from them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { MUTATION_OPTIONS, parseFlags, toMutationConfig, type MutationConfig } from '../../webhook/src/config.js';
import { decideAdmission, type Decision } from '../../webhook/src/admission/decide.js';
import type { KubeObject, Lookups, NadSource, VmiSource } from '../../webhook/src/k8s/sources.js';
import { createPlanner } from '../../webhook/src/mutate/plan.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PODS_DIR = join(REPO_ROOT, 'fixtures/pods');
export const REVIEWS_DIR = join(REPO_ROOT, 'fixtures/admission-reviews');
export const API_DIR = join(REVIEWS_DIR, 'api');

export const KUBEVIRT_CONTROLLER = 'system:serviceaccount:kubevirt:kubevirt-controller';

export type Json = Record<string, unknown>;

/** The mutation settings with every flag at its default. */
export function defaultMutationConfig(args: readonly string[] = []): MutationConfig {
  return toMutationConfig(parseFlags(args, MUTATION_OPTIONS));
}

export function loadPod(name: string): Json {
  return parse(readFileSync(join(PODS_DIR, `${name}.yaml`), 'utf8')) as Json;
}

export function loadApiObject(name: string): KubeObject {
  return parse(readFileSync(join(API_DIR, `${name}.yaml`), 'utf8')) as KubeObject;
}

export function loadReview(name: string): Json {
  return JSON.parse(readFileSync(join(REVIEWS_DIR, `${name}.json`), 'utf8')) as Json;
}

export function podNames(): string[] {
  return readdirSync(PODS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export interface ReviewCase {
  readonly pod?: string;
  readonly user: string;
  readonly operation?: 'CREATE' | 'UPDATE';
  readonly dryRun?: boolean;
  /** For requests about something other than a Pod. */
  readonly object?: Json;
  readonly kind?: string;
  readonly namespace: string;
}

/** Every AdmissionReview file under fixtures/admission-reviews/ and what it is built from. */
export const REVIEW_CASES: Record<string, ReviewCase> = {
  'create-v0.53-vhostuser': { pod: 'launcher-v0.53-vhostuser', user: KUBEVIRT_CONTROLLER, namespace: 'default' },
  'create-v1-binding': { pod: 'launcher-v1-binding', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'create-v1-binding-dryrun': { pod: 'launcher-v1-binding', user: KUBEVIRT_CONTROLLER, namespace: 'tests', dryRun: true },
  'create-v1alpha3-owner': { pod: 'launcher-v1alpha3-owner', user: KUBEVIRT_CONTROLLER, namespace: 'default' },
  'forged-user': { pod: 'launcher-v1-binding', user: 'system:serviceaccount:tests:default', namespace: 'tests' },
  'forged-owner': { pod: 'forged-owner', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'non-launcher': { pod: 'non-launcher', user: 'jane', namespace: 'tests' },
  'already-mutated': { pod: 'already-mutated', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'nri-podnetinfo': { pod: 'nri-podnetinfo', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'no-volumes': { pod: 'no-volumes', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'several-containers': { pod: 'several-containers', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'volume-conflict': { pod: 'volume-conflict', user: KUBEVIRT_CONTROLLER, namespace: 'tests' },
  'update-v1-binding': { pod: 'launcher-v1-binding', user: KUBEVIRT_CONTROLLER, namespace: 'tests', operation: 'UPDATE' },
  'not-a-pod': {
    user: 'jane',
    namespace: 'tests',
    kind: 'ConfigMap',
    object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'tests' }, data: { a: 'b' } },
  },
};

/** A stable uid per case, so the files do not churn when rebuilt. */
function uidOf(name: string): string {
  let h = 0x811c9dc5;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`;
}

/** The AdmissionReview the API server would send for a case (field layout of admission.k8s.io/v1). */
export function buildReview(name: string, c: ReviewCase): Json {
  const object = c.object ?? loadPod(c.pod ?? '');
  const kind = c.kind ?? 'Pod';
  const resource = kind === 'Pod' ? 'pods' : `${kind.toLowerCase()}s`;
  const operation = c.operation ?? 'CREATE';
  const meta = (object['metadata'] ?? {}) as Json;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: uidOf(name),
      kind: { group: '', version: 'v1', kind },
      resource: { group: '', version: 'v1', resource },
      requestKind: { group: '', version: 'v1', kind },
      requestResource: { group: '', version: 'v1', resource },
      ...(typeof meta['name'] === 'string' ? { name: meta['name'] } : {}),
      namespace: c.namespace,
      operation,
      userInfo: { username: c.user, uid: uidOf(c.user), groups: ['system:authenticated'] },
      object,
      oldObject: operation === 'UPDATE' ? object : null,
      dryRun: c.dryRun === true,
      options: { apiVersion: 'meta.k8s.io/v1', kind: operation === 'CREATE' ? 'CreateOptions' : 'UpdateOptions' },
    },
  };
}

/** Hand-written lookups over fixture objects: no Kubernetes API server can run in tests. */
export function fakeLookups(objects: { vmis?: readonly KubeObject[]; nads?: readonly KubeObject[] } = {}): Lookups & {
  calls: string[];
} {
  const calls: string[] = [];
  const find = (list: readonly KubeObject[] | undefined, ns: string, name: string) =>
    list?.find((o) => o.metadata?.namespace === ns && o.metadata.name === name);
  const vmi: VmiSource = {
    getVmi: async (ns, name, uid) => {
      calls.push(`vmi ${ns}/${name}`);
      const found = find(objects.vmis, ns, name);
      return found !== undefined && (uid === '' || found.metadata?.uid === uid) ? found : undefined;
    },
  };
  const nad: NadSource = {
    getNad: async (ns, name) => {
      calls.push(`nad ${ns}/${name}`);
      return find(objects.nads, ns, name);
    },
  };
  return { vmi, nad, calls, pending: () => [], close: async () => {} };
}

/** Lookups with every fixture VMI and NAD. */
export function fixtureLookups(): ReturnType<typeof fakeLookups> {
  return fakeLookups({
    vmis: [loadApiObject('vmi-vm-trex-1'), loadApiObject('vmi-vhostuser-vm')],
    nads: [loadApiObject('nad-userspace-ovs-net-1'), loadApiObject('nad-vhostuser-network'), loadApiObject('nad-macvlan')],
  });
}

/** Malformed reviews, derived from a good one. */
export const MALFORMED_CASES: Record<string, (good: Json) => Json> = {
  'bad-v1beta1': (good) => ({ ...good, apiVersion: 'admission.k8s.io/v1beta1' }),
  'bad-no-uid': (good) => {
    const { uid: _uid, ...request } = good['request'] as Json;
    return { ...good, request };
  },
};

/** Every review file's expected content, by file name (without .json). */
export function expectedReviewFiles(): Map<string, Json> {
  const files = new Map<string, Json>();
  for (const [name, c] of Object.entries(REVIEW_CASES)) files.set(name, buildReview(name, c));
  const good = files.get('create-v1-binding') as Json;
  for (const [name, derive] of Object.entries(MALFORMED_CASES)) files.set(name, derive(good));
  return files;
}

/**
 * decideAdmission on `pod` as KubeVirt's controller creates it in namespace vnf, with these VMIs and
 * NADs behind fake lookups and the mutation flags given; the decision and the lookups made.
 */
export async function decideLauncherPod(
  pod: Json,
  objects: { vmis?: readonly KubeObject[]; nads?: readonly KubeObject[] },
  flags: readonly string[] = [],
): Promise<{ decision: Decision; calls: string[] }> {
  const config = defaultMutationConfig(flags);
  const lookups = fakeLookups(objects);
  const request = {
    uid: 'b0b0b0b0-0000-4000-8000-0000000000aa',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    namespace: 'vnf',
    userInfo: { username: KUBEVIRT_CONTROLLER },
    object: pod,
  };
  const outcome = await decideAdmission(request as Parameters<typeof decideAdmission>[0], { ...config, lookupTimeoutMs: 1000, lookups, planPatch: createPlanner(config) });
  return { decision: outcome.decision, calls: lookups.calls };
}
