// Property: for any valid launcher-like pod (with or without volumes, mounts, sidecars, an
// existing podnetinfo mount), planPatch either names a conflict or returns add ops that apply,
// keep the pod valid, satisfy every wanted mount, and give no ops when run again.
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parsePod } from '../../webhook/src/admission/review.js';
import { applyAddOps } from '../../webhook/src/mutate/apply.js';
import { createPlanner } from '../../webhook/src/mutate/plan.js';
import { defaultMutationConfig, type Json } from './fixtures.js';

const plan = createPlanner({ volumes: defaultMutationConfig().volumes, bindingNames: ['vhostuser'] });
const annotations = { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } };
const labels = { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } };

// Volumes a pod may already have, some of our names with fitting or conflicting sources.
const VOLUMES: Json[] = [
  { name: 'private', emptyDir: {} },
  { name: 'hook-sidecar-sockets', emptyDir: {} },
  { name: 'shared-dir', emptyDir: {} },
  { name: 'shared-dir', hostPath: { path: '/var/lib/cni/usrcni' } },
  { name: 'shared-dir', configMap: { name: 'c' } },
  { name: 'ovs-run-dir', hostPath: { path: '/var/run/openvswitch', type: 'Directory' } },
  { name: 'ovs-run-dir', hostPath: { path: '/run/elsewhere' } },
  { name: 'podinfo', downwardAPI: { items: [labels, annotations] } },
  { name: 'podinfo', downwardAPI: { items: [labels] } },
  { name: 'podnetinfo', downwardAPI: { items: [labels, annotations] } },
];
const PATHS = ['/var/run/kubevirt-private', '/var/lib/cni/usrcni', '/var/lib/cni/usrcni/', '/var/run/openvswitch/', '/etc/podnetinfo', '/etc/podnetinfo/', '/var/run/kubevirt-hooks'];

const volumesArb = fc.uniqueArray(fc.constantFrom(...VOLUMES), { selector: (v) => v['name'], maxLength: 6 });

function containerArb(name: string, volumeNames: readonly string[]) {
  // A pod without volumes can still have an empty volumeMounts list.
  // readOnly in any state: the planner must leave existing mounts exactly as they are.
  const mounts: fc.Arbitrary<{ name: string; mountPath: string; readOnly?: boolean }[]> =
    volumeNames.length === 0
      ? fc.constant([])
      : fc.uniqueArray(fc.record({ name: fc.constantFrom(...volumeNames), mountPath: fc.constantFrom(...PATHS), readOnly: fc.boolean() }, { requiredKeys: ['name', 'mountPath'] }), {
          selector: (m) => m.mountPath.replace(/\/+$/, ''),
          maxLength: 4,
        });
  return fc.record(
    {
      name: fc.constant(name),
      image: fc.constant('img'),
      env: fc.constantFrom([], [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }], [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'passt' }]),
      volumeMounts: fc.option(mounts, { nil: undefined }),
    },
    { requiredKeys: ['name', 'image'] },
  );
}

const podArb = fc
  .tuple(
    fc.option(volumesArb, { nil: undefined }),
    fc.uniqueArray(fc.constantFrom('hook-sidecar-0', 'hook-sidecar-1', 'guest-console-log'), { maxLength: 3 }),
    fc.nat(3),
  )
  // compute anywhere among the others (a pod without it has its own test).
  .map(([volumes, others, at]) => [volumes, (others as string[]).toSpliced(Math.min(at, others.length), 0, 'compute')] as const)
  .chain(([volumes, names]) =>
    fc.tuple(...names.map((n) => containerArb(n, (volumes ?? []).map((v) => v['name'] as string)))).map((containers) => {
      const spec: Json = { containers: containers.map((c) => JSON.parse(JSON.stringify(c)) as Json) };
      if (volumes !== undefined) spec['volumes'] = structuredClone(volumes);
      return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec } as Json;
    }),
  );

type Spec = { volumes?: { name: string }[]; containers: { name: string; volumeMounts?: { name: string; mountPath: string }[] }[] };
const dir = (p: string) => p.replace(/\/+$/, '');

describe('planPatch (property)', () => {
  it('returns add ops that apply and are idempotent, or names a conflict', () => {
    fc.assert(
      fc.property(podArb, (pod) => {
        const result = plan(parsePod(pod), 'ns/p');
        if (!result.ok) {
          expect(result.error.code).toBe('E_VOLUME_CONFLICT');
          return;
        }
        expect(result.ops.every((op) => op.op === 'add')).toBe(true);
        // Every mount the patch adds at the OVS run directory is read-only.
        const ovsMounts = result.ops.filter((op) => dir(String((op.value as Json)['mountPath'] ?? '')) === '/var/run/openvswitch');
        expect(ovsMounts.every((op) => (op.value as Json)['readOnly'] === true)).toBe(true);
        const patched = fastJsonPatch.applyPatch(structuredClone(pod), structuredClone(result.ops) as fastJsonPatch.Operation[], true, false).newDocument as Json;
        // Our own applier (mutate --apply) agrees with the library.
        expect(applyAddOps(structuredClone(pod), result.ops)).toEqual(patched);

        const again = plan(parsePod(patched), 'ns/p');
        expect(again).toEqual({ ok: true, ops: [] });

        const spec = patched['spec'] as Spec;
        const names = (spec.volumes ?? []).map((v) => v.name);
        expect(new Set(names).size).toBe(names.length);
        for (const c of spec.containers) {
          const paths = (c.volumeMounts ?? []).map((m) => dir(m.mountPath));
          expect(new Set(paths).size).toBe(paths.length);
          for (const m of c.volumeMounts ?? []) expect(names).toContain(m.name);
        }
        const compute = spec.containers.find((c) => c.name === 'compute');
        const computePaths = (compute?.volumeMounts ?? []).map((m) => dir(m.mountPath));
        expect(computePaths).toEqual(expect.arrayContaining(['/var/lib/cni/usrcni', '/var/run/openvswitch', '/etc/podnetinfo']));
        expect(names).toContain('shared-dir');
      }),
      { numRuns: 600 },
    );
  });
});
