// Property: for any launcher-like pod (with or without volumes, mounts, sidecars, an existing
// podnetinfo mount or socket-dirs env), planPatch refuses exactly the pods that hold something
// else where vhost-user needs its volume, mount or env, and otherwise patches every target
// container (compute, our binding sidecar) to mount each volume it needs exactly once, changes
// nothing else, and gives no ops when run again. The expectations are written from the rules in
// docs/webhook.md, not from the planner's code.
import { MUTATION_ANNOTATION } from '../../webhook/src/mutate/mark.js';
import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parsePod } from '../../webhook/src/admission/review.js';
import { applyAddOps } from '../../webhook/src/mutate/apply.js';
import { createPlanner } from '../../webhook/src/mutate/plan.js';
import { defaultMutationConfig, type Json } from './fixtures.js';

const settings = defaultMutationConfig().volumes;
const SOCKET_DIRS = '/var/lib/cni/usrcni';
const planners = {
  default: createPlanner({ volumes: settings, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION }),
  'with --sidecar-socket-dir': createPlanner({ volumes: settings, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION, sidecarSocketDirs: [SOCKET_DIRS] }),
};
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
  { name: 'host-ovs', hostPath: { path: '/var/run/openvswitch/' } },
  { name: 'podinfo', downwardAPI: { items: [labels, annotations] } },
  { name: 'podinfo', downwardAPI: { items: [labels] } },
  { name: 'podnetinfo', downwardAPI: { items: [labels, annotations] } },
];
const PATHS = ['/var/run/kubevirt-private', '/var/lib/cni/usrcni', '/var/lib/cni/usrcni/', '/var/run/openvswitch/', '/etc/podnetinfo', '/etc/podnetinfo/', '/var/run/kubevirt-hooks'];
const ENVS: Json[][] = [
  [],
  [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }],
  [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'passt' }],
  [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }, { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: SOCKET_DIRS }],
  [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }, { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/' }],
  [{ name: 'NETWORK_BINDING_PLUGIN_NAME', value: 'vhostuser' }, { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
];

const volumesArb = fc.uniqueArray(fc.constantFrom(...VOLUMES), { selector: (v) => v['name'], maxLength: 6 });

function containerArb(name: string, volumeNames: readonly string[]) {
  // A pod without volumes can still have an empty volumeMounts list.
  // readOnly in any state: the planner must leave existing mounts exactly as they are.
  const mounts: fc.Arbitrary<{ name: string; mountPath: string; readOnly?: boolean }[]> =
    volumeNames.length === 0
      ? fc.constant([])
      : fc.uniqueArray(fc.record({ name: fc.constantFrom(...volumeNames), mountPath: fc.constantFrom(...PATHS), readOnly: fc.boolean() }, { requiredKeys: ['name', 'mountPath'] }), {
          selector: (m) => dir(m.mountPath),
          maxLength: 4,
        });
  return fc.record(
    { name: fc.constant(name), image: fc.constant('img'), env: fc.constantFrom(...ENVS), volumeMounts: fc.option(mounts, { nil: undefined }) },
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

type Mount = { name: string; mountPath: string; readOnly?: boolean };
type Env = { name: string; value?: string; valueFrom?: unknown };
type Container = { name: string; env?: Env[]; volumeMounts?: Mount[] };
type Volume = Json & { name: string };
type Spec = { volumes?: Volume[]; containers: Container[] };
const dir = (p: string) => p.replace(/\/+$/, '');
const specOf = (pod: Json) => pod['spec'] as Spec;

/** What vhost-user needs at each path (docs/webhook.md, "The three volumes"). */
interface Role {
  readonly name: string;
  readonly path: string;
  /** May a fitting volume of another name, already mounted at the path, stand in? */
  readonly reusable: boolean;
  readonly inSidecar: boolean;
  serves(v: Volume): boolean;
}
const ROLES: readonly Role[] = [
  { name: 'shared-dir', path: dir(settings.sharedDir.mountPath), reusable: false, inSidecar: true, serves: (v) => 'emptyDir' in v || 'hostPath' in v },
  { name: 'ovs-run-dir', path: dir(settings.ovsRunDir.mountPath), reusable: true, inSidecar: false, serves: (v) => dir(String((v['hostPath'] as Json | undefined)?.['path'] ?? '')) === '/var/run/openvswitch' },
  {
    name: 'podinfo',
    path: dir(settings.podinfo.mountPath),
    reusable: true,
    inSidecar: true,
    serves: (v) => ((v['downwardAPI'] as { items?: Json[] } | undefined)?.items ?? []).some((i) => i['path'] === 'annotations' && (i['fieldRef'] as Json)['fieldPath'] === 'metadata.annotations'),
  },
];

/** Our binding sidecar, as virt-controller 1.9 renders it: `hook-sidecar-<i>` naming our binding. */
const isOurSidecar = (c: Container) => /^hook-sidecar-\d+$/.test(c.name) && c.env?.find((e) => e.name === 'NETWORK_BINDING_PLUGIN_NAME')?.value === 'vhostuser';
/** The roles a container must end up mounting; none for a container that is not a target. */
const rolesOf = (c: Container): readonly Role[] => (c.name === 'compute' ? ROLES : isOurSidecar(c) ? ROLES.filter((r) => r.inSidecar) : []);
const mountAt = (c: Container, path: string) => (c.volumeMounts ?? []).filter((m) => dir(m.mountPath) === path);

/** The conflicts the pod really has: codes the planner may answer with; empty when it must patch. */
function realConflicts(spec: Spec, socketDirs: boolean): Set<string> {
  const conflicts = new Set<string>();
  const volume = (name: string) => spec.volumes?.find((v) => v.name === name);
  // The CNI looks the shared dir up by name, so it is needed even when already mounted.
  const neededByName = new Set(['shared-dir']);
  for (const c of spec.containers) {
    for (const r of rolesOf(c)) {
      const [m] = mountAt(c, r.path);
      if (m === undefined || m.name === r.name) neededByName.add(r.name);
      else if (!(r.reusable && volume(m.name) !== undefined && r.serves(volume(m.name) as Volume))) conflicts.add('E_VOLUME_CONFLICT');
    }
    if (socketDirs && isOurSidecar(c) && c.env?.some((e) => e.name === 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS' && (e.value !== SOCKET_DIRS || e.valueFrom !== undefined))) {
      conflicts.add('E_ENV_CONFLICT');
    }
  }
  for (const name of neededByName) {
    const v = volume(name);
    if (v !== undefined && !(ROLES.find((r) => r.name === name) as Role).serves(v)) conflicts.add('E_VOLUME_CONFLICT');
  }
  return conflicts;
}

/** Everything about a container but its mounts and env, which only targets may gain. */
const rest = ({ volumeMounts: _m, env: _e, ...others }: Container) => others;

function expectPatchedAsNeeded(before: Spec, after: Spec, socketDirs: boolean): void {
  const volumes = after.volumes ?? [];
  const names = volumes.map((v) => v.name);
  expect(new Set(names).size).toBe(names.length);
  // Add-only: the pod's volumes stay first, as they were.
  expect(volumes.slice(0, before.volumes?.length ?? 0)).toEqual(before.volumes ?? []);
  expect(after.containers).toHaveLength(before.containers.length);
  before.containers.forEach((c, i) => {
    const now = after.containers[i] as Container;
    const roles = rolesOf(c);
    if (roles.length === 0) {
      expect(now, `container ${c.name} is no target`).toEqual(c);
      return;
    }
    expect(rest(now)).toEqual(rest(c));
    expect((now.volumeMounts ?? []).slice(0, c.volumeMounts?.length ?? 0)).toEqual(c.volumeMounts ?? []);
    for (const r of roles) {
      const at = mountAt(now, r.path);
      expect(at, `${c.name} mounts ${r.name} once at ${r.path}`).toHaveLength(1);
      const m = at[0] as Mount;
      if (!r.reusable) expect(m.name).toBe(r.name);
      const v = volumes.find((x) => x.name === m.name);
      expect(v !== undefined && r.serves(v), `${c.name}'s volume at ${r.path} serves ${r.name}`).toBe(true);
      // Only the OVS run directory's own mount is read-only; the one we add always is.
      if (r.name === 'ovs-run-dir' && mountAt(c, r.path).length === 0) expect(m.readOnly).toBe(true);
    }
    for (const m of now.volumeMounts ?? []) expect(names).toContain(m.name);
    const ours = (now.env ?? []).filter((e) => e.name === 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS');
    if (socketDirs && isOurSidecar(c)) {
      expect(ours.length).toBeGreaterThan(0);
      expect(ours.every((e) => e.value === SOCKET_DIRS)).toBe(true);
      expect((now.env ?? []).slice(0, c.env?.length ?? 0)).toEqual(c.env ?? []);
    } else {
      expect(now.env).toEqual(c.env);
    }
  });
  // No volume for nothing: each added one is mounted, or is the shared dir the CNI looks up.
  for (const v of volumes.slice(before.volumes?.length ?? 0)) {
    expect(v.name === 'shared-dir' || after.containers.some((c) => c.volumeMounts?.some((m) => m.name === v.name))).toBe(true);
  }
}

describe('planPatch (property)', () => {
  it.each(Object.entries(planners))('%s: refuses exactly the pods with a real conflict, and patches every other one as needed, once', (name, plan) => {
    const socketDirs = name !== 'default';
    let patchedSome = false;
    fc.assert(
      fc.property(podArb, (pod) => {
        const result = plan(parsePod(pod), 'ns/p');
        const conflicts = realConflicts(specOf(pod), socketDirs);
        if (!result.ok) {
          expect([...conflicts], result.error.message).toContain(result.error.code);
          return;
        }
        expect([...conflicts], 'a pod with a real conflict is patched').toEqual([]);
        expect(result.ops.every((op) => op.op === 'add')).toBe(true);
        const patched = fastJsonPatch.applyPatch(structuredClone(pod), structuredClone(result.ops) as fastJsonPatch.Operation[], true, false).newDocument as Json;
        // Our own applier (mutate --apply) agrees with the library.
        expect(applyAddOps(structuredClone(pod), result.ops)).toEqual(patched);
        // Outside spec only the annotation changes, and only when volumes were added; it names them.
        const { [MUTATION_ANNOTATION]: mark, ...annotations } = (patched['metadata'] as { annotations?: Record<string, string> }).annotations ?? {};
        expect({ ...patched, spec: undefined, metadata: { ...(patched['metadata'] as Json), annotations: undefined } }).toEqual({ ...pod, spec: undefined, metadata: { ...(pod['metadata'] as Json), annotations: undefined } });
        expect(annotations).toEqual((pod['metadata'] as { annotations?: Record<string, string> }).annotations ?? {});
        expect(mark === undefined ? undefined : JSON.parse(mark)).toEqual(result.added.volumes.length === 0 ? undefined : { webhook: WEBHOOK_VERSION, volumes: result.added.volumes });
        expectPatchedAsNeeded(specOf(pod), specOf(patched), socketDirs);
        expect(plan(parsePod(patched), 'ns/p')).toEqual({ ok: true, ops: [], added: { volumes: [], containers: [] } });
        patchedSome ||= result.ops.length > 0;
      }),
      { numRuns: 600 },
    );
    expect(patchedSome).toBe(true);
  });
});
