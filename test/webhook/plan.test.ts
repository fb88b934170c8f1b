import { WEBHOOK_VERSION } from '../../webhook/src/version.js';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parsePod, type Pod } from '../../webhook/src/admission/review.js';
import { createPlanner, planEnvVar, type JsonPatchOp, type PlanPatch } from '../../webhook/src/mutate/plan.js';
import { defaultMutationConfig, loadPod, podNames, type Json } from './fixtures.js';

const DEFAULT_SETTINGS = defaultMutationConfig().volumes;
const plan = createPlanner({ volumes: DEFAULT_SETTINGS, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION });

function opsOf(planPatch: PlanPatch, pod: Json): readonly JsonPatchOp[] {
  const result = planPatch(parsePod(pod), 'ns/pod');
  if (!result.ok) throw result.error;
  return result.ops;
}

/** Applies with fast-json-patch in validating mode (throws on any op that does not apply). */
function applyValidated(pod: Json, ops: readonly JsonPatchOp[]): Json {
  // Cloned: fast-json-patch inserts op values by reference and appends into them later.
  return fastJsonPatch.applyPatch(structuredClone(pod), structuredClone(ops) as fastJsonPatch.Operation[], true, false).newDocument;
}

function mountsOf(pod: Json, container: string): { name: string; mountPath: string }[] {
  const containers = (pod['spec'] as { containers: { name: string; volumeMounts?: { name: string; mountPath: string }[] }[] }).containers;
  return containers.find((c) => c.name === container)?.volumeMounts ?? [];
}

function volumeNames(pod: Json): string[] {
  return ((pod['spec'] as { volumes?: { name: string }[] }).volumes ?? []).map((v) => v.name);
}

// The planner only runs on launcher pods; the conflict case has its own test.
const notPlanned = new Set(['volume-conflict', 'non-launcher']);

describe('planPatch on every pod fixture', () => {
  it.each(podNames().filter((n) => !notPlanned.has(n)))('%s: only add ops, they apply, and a second run adds nothing', (name) => {
    const pod = loadPod(name);
    const ops = opsOf(plan, pod);
    expect(ops.every((op) => op.op === 'add')).toBe(true);
    const patched = applyValidated(pod, ops);
    expect(opsOf(plan, patched)).toEqual([]);
    // No volume name twice, no mount path twice in a container, every mount names a volume.
    const names = volumeNames(patched);
    expect(new Set(names).size).toBe(names.length);
    for (const c of (patched['spec'] as { containers: { name: string }[] }).containers) {
      const paths = mountsOf(patched, c.name).map((m) => m.mountPath.replace(/\/+$/, ''));
      expect(new Set(paths).size).toBe(paths.length);
      for (const m of mountsOf(patched, c.name)) expect(names).toContain(m.name);
    }
  });
});

describe('planPatch', () => {
  it('adds the three volumes and their compute mounts, and podinfo in the vhostuser sidecar', () => {
    const patched = applyValidated(loadPod('launcher-v1-binding'), opsOf(plan, loadPod('launcher-v1-binding')));
    expect(volumeNames(patched).slice(-3)).toEqual(['shared-dir', 'ovs-run-dir', 'podinfo']);
    expect(mountsOf(patched, 'compute').slice(-3)).toEqual([
      { name: 'shared-dir', mountPath: '/var/lib/cni/usrcni/' },
      { name: 'ovs-run-dir', mountPath: '/var/run/openvswitch/', readOnly: true },
      { name: 'podinfo', mountPath: '/etc/podnetinfo' },
    ]);
    expect(mountsOf(patched, 'hook-sidecar-0').at(-1)).toEqual({ name: 'podinfo', mountPath: '/etc/podnetinfo' });
    const volumes = (patched['spec'] as { volumes: Json[] }).volumes;
    expect(volumes.find((v) => v['name'] === 'ovs-run-dir')).toEqual({
      name: 'ovs-run-dir',
      hostPath: { path: '/var/run/openvswitch/', type: 'Directory' },
    });
  });

  it('mounts the OVS run directory read-write only with --ovs-run-dir-writable, and nothing else changes', () => {
    const writable = createPlanner({ volumes: defaultMutationConfig(['--ovs-run-dir-writable']).volumes, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION });
    const ops = opsOf(writable, loadPod('launcher-v1-binding'));
    const ovs = ops.filter((o) => (o.value as Json)['name'] === 'ovs-run-dir' && o.path.includes('volumeMounts'));
    expect(ovs.map((o) => o.value)).toEqual([{ name: 'ovs-run-dir', mountPath: '/var/run/openvswitch/' }]);
    // The only difference from the default patch is that one readOnly field.
    const readOnly = opsOf(plan, loadPod('launcher-v1-binding'));
    expect(readOnly.map((o) => o.path)).toEqual(ops.map((o) => o.path));
    const diff = readOnly.filter((o, k) => JSON.stringify(o) !== JSON.stringify(ops[k]));
    expect(diff.map((o) => o.value)).toEqual([{ name: 'ovs-run-dir', mountPath: '/var/run/openvswitch/', readOnly: true }]);
  });

  it.each([
    ['without readOnly', {}],
    ['with readOnly: false', { readOnly: false }],
    ['with readOnly: true', { readOnly: true }],
  ])('leaves an existing ovs-run-dir mount %s as it is, in either mode (add-only)', (_case, extra) => {
    const pod = loadPod('already-mutated') as { spec: { containers: { volumeMounts: Json[] }[] } };
    const mount = pod.spec.containers[0]?.volumeMounts.find((m) => m['name'] === 'ovs-run-dir') as Json;
    delete mount['readOnly'];
    Object.assign(mount, extra);
    const writable = createPlanner({ volumes: defaultMutationConfig(['--ovs-run-dir-writable']).volumes, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION });
    expect(opsOf(plan, pod as unknown as Json)).toEqual([]);
    expect(opsOf(writable, pod as unknown as Json)).toEqual([]);
  });

  it('leaves a writable hostPath of the OVS run directory under another name as it is', () => {
    const pod = loadPod('launcher-v1-binding') as { spec: { containers: { volumeMounts: Json[] }[]; volumes: Json[] } };
    pod.spec.volumes.push({ name: 'ovs', hostPath: { path: '/var/run/openvswitch' } });
    pod.spec.containers[0]?.volumeMounts.push({ name: 'ovs', mountPath: '/var/run/openvswitch' });
    const ops = opsOf(plan, pod as unknown as Json);
    expect(ops.some((o) => o.path.startsWith('/spec/containers/0/') && (o.value as Json)['mountPath'] === '/var/run/openvswitch/')).toBe(false);
    expect(ops.some((o) => (o.value as Json)['readOnly'] !== undefined)).toBe(false);
  });

  it('creates spec.volumes and each volumeMounts array before appending when they are absent', () => {
    const ops = opsOf(plan, loadPod('no-volumes'));
    expect(ops.map((o) => `${o.path} ${Array.isArray(o.value) ? '[]' : ''}`.trim())).toEqual([
      '/spec/volumes []',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/volumes/-',
      '/spec/containers/0/volumeMounts []',
      '/spec/containers/0/volumeMounts/-',
      '/spec/containers/0/volumeMounts/-',
      '/spec/containers/0/volumeMounts/-',
      '/spec/containers/1/volumeMounts []',
      '/spec/containers/1/volumeMounts/-',
      '/spec/containers/1/volumeMounts/-',
      '/metadata/annotations/kubevirt-vhostuser.io~1mutation',
    ]);
  });

  it("reuses network-resources-injector's podnetinfo mount instead of mounting a second volume there", () => {
    const ops = opsOf(plan, loadPod('nri-podnetinfo'));
    // compute and our sidecar get the shared dir; compute the OVS run dir; nobody a second podinfo.
    expect(ops.slice(0, -1).map((o) => (o.value as { name?: string }).name)).toEqual(['shared-dir', 'ovs-run-dir', 'shared-dir', 'ovs-run-dir', 'shared-dir']);
    expect(ops.at(-1)?.value).toBe(JSON.stringify({ webhook: WEBHOOK_VERSION, volumes: ['shared-dir', 'ovs-run-dir'] }));
  });

  it('mounts podinfo only in sidecars serving one of our bindings, and touches other containers not at all', () => {
    const patched = applyValidated(loadPod('several-containers'), opsOf(plan, loadPod('several-containers')));
    expect(mountsOf(patched, 'hook-sidecar-0').map((m) => m.name)).toContain('podinfo');
    expect(mountsOf(patched, 'hook-sidecar-1').map((m) => m.name)).not.toContain('podinfo');
    expect(mountsOf(patched, 'guest-console-log')).toEqual(mountsOf(loadPod('several-containers'), 'guest-console-log'));
  });

  it('mounts only the shared dir in our sidecar when podinfo-in-sidecars is off (it makes the socket links there)', () => {
    const off = createPlanner({ volumes: { ...DEFAULT_SETTINGS, podinfo: { ...DEFAULT_SETTINGS.podinfo, inSidecars: false } }, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION });
    const patched = applyValidated(loadPod('launcher-v1-binding'), opsOf(off, loadPod('launcher-v1-binding')));
    const names = mountsOf(patched, 'hook-sidecar-0').map((m) => m.name);
    expect(names).toContain('shared-dir');
    expect(names).not.toContain('podinfo');
    expect(names).not.toContain('ovs-run-dir');
    expect(mountsOf(patched, 'hook-sidecar-0').find((m) => m.name === 'shared-dir')?.mountPath).toBe(mountsOf(patched, 'compute').find((m) => m.name === 'shared-dir')?.mountPath);
  });

  it('uses configured names and paths, and escapes nothing it does not need to', () => {
    const custom = createPlanner({
      volumes: {
        sharedDir: { name: 'vhu-sockets', mountPath: '/var/run/vhu' },
        ovsRunDir: { name: 'ovs', hostPath: '/run/openvswitch', mountPath: '/run/openvswitch', writable: false },
        podinfo: { name: 'podnetinfo', mountPath: '/etc/podnetinfo', inSidecars: true },
      },
      bindingNames: ['vhostuser'], version: WEBHOOK_VERSION,
    });
    const patched = applyValidated(loadPod('launcher-v1-binding'), opsOf(custom, loadPod('launcher-v1-binding')));
    expect(volumeNames(patched).slice(-3)).toEqual(['vhu-sockets', 'ovs', 'podnetinfo']);
    expect(opsOf(custom, patched)).toEqual([]);
  });

  it('treats /var/run/openvswitch and /var/run/openvswitch/ as the same mount path', () => {
    const pod = loadPod('already-mutated');
    const compute = (pod['spec'] as { containers: { volumeMounts: { mountPath: string }[] }[] }).containers[0];
    for (const m of compute?.volumeMounts ?? []) m.mountPath = m.mountPath.replace(/\/+$/, '');
    expect(opsOf(plan, pod)).toEqual([]);
  });

  it('refuses a volume of our name with another source, naming the volume, the source and the flag', () => {
    const result = plan(parsePod(loadPod('volume-conflict')), 'tests/virt-launcher-vhostuser-vm-x');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('E_VOLUME_CONFLICT');
    expect(result.error.message).toMatchInlineSnapshot(
      `"pod tests/virt-launcher-vhostuser-vm-x: volume "shared-dir" already exists with a configMap source; vhost-user needs an emptyDir or hostPath volume (the userspace CNI places the sockets there) under that name. Rename that volume or change --shared-dir-volume"`,
    );
  });

  it('refuses another volume already mounted at the socket directory', () => {
    const pod = loadPod('launcher-v1-binding') as { spec: { containers: { volumeMounts: Json[] }[] } };
    pod.spec.containers[0]?.volumeMounts.push({ name: 'private', mountPath: '/var/lib/cni/usrcni' });
    const result = plan(parsePod(pod), 'tests/p');
    expect(result.ok ? '' : result.error.message).toMatch(
      /^pod tests\/p: container "compute" already mounts volume "private" at \/var\/lib\/cni\/usrcni; vhost-user needs volume "shared-dir"/,
    );
  });

  it('accepts an existing hostPath of the OVS run directory under another name', () => {
    const pod = loadPod('launcher-v1-binding') as { spec: { containers: { volumeMounts: Json[] }[]; volumes: Json[] } };
    pod.spec.volumes.push({ name: 'ovs', hostPath: { path: '/var/run/openvswitch' } });
    pod.spec.containers[0]?.volumeMounts.push({ name: 'ovs', mountPath: '/var/run/openvswitch' });
    const names = opsOf(plan, pod as unknown as Json).map((o) => (o.value as { name?: string }).name);
    expect(names).not.toContain('ovs-run-dir');
  });

  it('says so when the pod has no compute container', () => {
    const pod: Pod = parsePod({ spec: { containers: [{ name: 'web' }] } });
    const result = plan(pod, 'tests/p');
    expect(result.ok ? '' : `${result.error.code}: ${result.error.message}`).toBe(
      'E_POD_UNSUPPORTED: pod tests/p: no container named "compute"; expected a KubeVirt virt-launcher pod',
    );
  });
});

describe('planPatch: KUBEVIRT_VHOSTUSER_SOCKET_DIRS on our binding sidecar', () => {
  const DIRS = ['/var/run/vhost-sockets/', '/run/dpdk'];
  const VALUE = '/var/run/vhost-sockets/,/run/dpdk';
  const withDirs = createPlanner({ volumes: DEFAULT_SETTINGS, bindingNames: ['vhostuser'], version: WEBHOOK_VERSION, sidecarSocketDirs: DIRS });

  type EnvPod = { spec: { containers: { name: string; env?: Json[] }[] } };
  const envOf = (pod: Json, container: string) => (pod as EnvPod).spec.containers.find((c) => c.name === container)?.env ?? [];
  const ours = (pod: Json, container: string) => envOf(pod, container).filter((e) => e['name'] === 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS');

  it('sets the comma-separated list on the vhostuser sidecar only, appended to its env', () => {
    const pod = loadPod('several-containers');
    const ops = opsOf(withDirs, pod);
    expect(ops.filter((o) => o.path.includes('/env'))).toEqual([
      { op: 'add', path: '/spec/containers/1/env/-', value: { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: VALUE } },
    ]);
    const patched = applyValidated(pod, ops);
    expect(ours(patched, 'hook-sidecar-0')).toEqual([{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: VALUE }]);
    // The env it had is kept in front; compute, the passt sidecar and the console logger get nothing.
    expect(envOf(patched, 'hook-sidecar-0').slice(0, -1)).toEqual(envOf(pod, 'hook-sidecar-0'));
    for (const c of ['compute', 'hook-sidecar-1', 'guest-console-log']) expect(envOf(patched, c)).toEqual(envOf(pod, c));
  });

  it('adds nothing with no --sidecar-socket-dir', () => {
    expect(opsOf(plan, loadPod('several-containers')).some((o) => o.path.includes('/env'))).toBe(false);
  });

  it('sets it also with podinfo-in-sidecars off, since the sidecar is recognised by its binding', () => {
    const off = createPlanner({
      volumes: { ...DEFAULT_SETTINGS, podinfo: { ...DEFAULT_SETTINGS.podinfo, inSidecars: false } },
      bindingNames: ['vhostuser'], version: WEBHOOK_VERSION,
      sidecarSocketDirs: DIRS,
    });
    const ops = opsOf(off, loadPod('launcher-v1-binding'));
    expect(ops.filter((o) => o.path.startsWith('/spec/containers/1/')).map((o) => o.path)).toEqual(['/spec/containers/1/volumeMounts/-', '/spec/containers/1/env/-']);
  });

  it('is idempotent: a sidecar that already has the same value gets nothing more', () => {
    const patched = applyValidated(loadPod('launcher-v1-binding'), opsOf(withDirs, loadPod('launcher-v1-binding')));
    expect(opsOf(withDirs, patched)).toEqual([]);
  });

  it('remembers plans per env state: a pod that already has the value and one that lacks it get different ops', () => {
    const lacking = loadPod('launcher-v1-binding');
    const having = applyValidated(lacking, opsOf(withDirs, lacking));
    const partly = structuredClone(lacking) as EnvPod;
    partly.spec.containers[1]?.env?.push({ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: VALUE });
    const envOps = (pod: Json) => opsOf(withDirs, pod).filter((o) => o.path.includes('/env'));
    expect(envOps(lacking)).toHaveLength(1);
    expect(envOps(partly as unknown as Json)).toEqual([]);
    expect(opsOf(withDirs, having)).toEqual([]);
    expect(envOps(lacking)).toHaveLength(1);
  });

  it.each<[string, Json[], string]>([
    ['another value', [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/' }], 'to "/"'],
    ['the same value, then another that overrides it', [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: VALUE }, { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: '/var/run/openvswitch' }], 'to "/var/run/openvswitch"'],
    ['a valueFrom source', [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }], 'to a valueFrom source'],
    // Invalid for the API server too, but the webhook sees the pod before validation does.
    ['our value and a valueFrom source', [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: VALUE, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], 'to a valueFrom source'],
    ['no value', [{ name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS' }], 'to an empty value'],
  ])('refuses (409) a sidecar that already sets it to %s, naming the container and the flag', (_case, entries, what) => {
    const pod = loadPod('launcher-v1-binding') as EnvPod;
    pod.spec.containers[1]?.env?.push(...entries);
    const result = withDirs(parsePod(pod), 'tests/p');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('E_ENV_CONFLICT');
    expect(result.error.message).toBe(
      `pod tests/p: container "hook-sidecar-0" already sets KUBEVIRT_VHOSTUSER_SOCKET_DIRS ${what}; ` +
        `vhost-user needs "${VALUE}" there. Remove that env var or change --sidecar-socket-dir`,
    );
  });

  it('creates the env array before appending when a container has none (planEnvVar)', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'compute', image: 'i' }, { name: 'side', image: 'i' }] } };
    const entry = { name: 'KUBEVIRT_VHOSTUSER_SOCKET_DIRS', value: VALUE };
    const out = planEnvVar(pod.spec.containers[1] as never, 1, entry, 'ns/p', '--sidecar-socket-dir') as JsonPatchOp[];
    expect(out).toEqual([
      { op: 'add', path: '/spec/containers/1/env', value: [] },
      { op: 'add', path: '/spec/containers/1/env/-', value: entry },
    ]);
    const patched = applyValidated(pod, out) as unknown as EnvPod;
    expect(patched.spec.containers[1]?.env).toEqual([entry]);
    // Run again on the result: present with the same value, so nothing.
    expect(planEnvVar(patched.spec.containers[1] as never, 1, entry, 'ns/p', '--sidecar-socket-dir')).toEqual([]);
  });
});
