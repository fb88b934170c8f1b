// The release matrix: for each KubeVirt release the project claims, the launcher pod exactly as that
// release's virt-controller renders it (fixtures/releases/, each file naming its tag, file and
// function), through the webhook's decision and patch, then the real `hook-sidecar` command,
// negotiated at the hook API version the release's virt-launcher picks, on the annotations kubelet
// writes for that pod, and libvirt's acceptance of the domain it answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { convert } from '../../converter/src/index.js';
import { parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { findPackageRoot } from '../../sidecar/src/proto.js';
import { stableSocketName } from '../../converter/src/socket-path.js';
import type { Decision } from '../../webhook/src/admission/decide.js';
import type { KubeObject } from '../../webhook/src/k8s/sources.js';
import { validateDomainXml } from '../helpers/libvirt.js';
import { validatePod } from '../helpers/pod-schema.js';
import { defineRequest, domainFixture, hookClient, resultXml, services } from '../sidecar/helpers.js';
import { decideLauncherPod, type Json } from '../webhook/fixtures.js';

const ROOT = findPackageRoot();
const RELEASES_DIR = join(ROOT, 'fixtures/releases');
const RELEASES = ['v0.53.0', 'v1.1.0', 'v1.3.0', 'v1.5.0', 'v1.8.4', 'v1.9.0'] as const;
/** The image the fixtures' KubeVirt CR registers as the binding's sidecarImage. */
const SIDECAR_IMAGE = 'ghcr.io/example/kubevirt-vhostuser:0.1.0';
const SHARED_DIR = '/var/lib/cni/usrcni';
const STABLE = `${SHARED_DIR}/${stableSocketName('dpdk-net')}`;

interface Release {
  readonly tag: string;
  readonly hookApiVersions: readonly string[];
  readonly shutdownHook: boolean;
  readonly downwardApiDeviceInfo: boolean;
}

const release = (tag: string): Release => JSON.parse(readFileSync(join(RELEASES_DIR, tag, 'release.json'), 'utf8')) as Release;
const yamlOf = (tag: string, file: string): Json => parse(readFileSync(join(RELEASES_DIR, tag, file), 'utf8')) as Json;
/** The pod variants a release renders: plain, and with `downwardAPI: device-info` from v1.3. */
const variants = (tag: string): string[] => ['', '.device-info'].filter((v) => existsSync(join(RELEASES_DIR, tag, `launcher-pod${v}.yaml`)));
const cases = RELEASES.flatMap((tag) => variants(tag).map((variant) => [tag, variant] as const));

type Container = { name: string; image?: string; env?: { name: string }[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] };
const containersOf = (pod: Json) => (pod['spec'] as { containers: Container[] }).containers;
const mountsOf = (pod: Json, name: string) => containersOf(pod).find((c) => c.name === name)?.volumeMounts ?? [];

async function decide(pod: Json, vmi: Json | undefined): Promise<Decision> {
  return (await decideLauncherPod(pod, { vmis: vmi === undefined ? [] : [vmi as KubeObject] }, ['--sidecar-image', SIDECAR_IMAGE])).decision;
}

describe.each(cases)('KubeVirt %s%s: the webhook', (tag, variant) => {
  const pod = yamlOf(tag, `launcher-pod${variant}.yaml`);
  const vmi = yamlOf(tag, 'vmi.yaml');
  const sidecars = containersOf(pod).filter((c) => /^hook-sidecar-\d+$/.test(c.name));

  it('recognises our sidecar by KubeVirt’s name and the registered image (no binding env before 1.9)', () => {
    expect(sidecars.map((c) => c.image)).toEqual(tag === 'v0.53.0' ? [] : [SIDECAR_IMAGE]);
    const namesBinding = sidecars.some((c) => c.env?.some((e) => e.name === 'NETWORK_BINDING_PLUGIN_NAME'));
    expect(namesBinding).toBe(tag === 'v1.9.0');
  });

  it('patches compute with the three volumes and our sidecar with the shared dir and podinfo, nothing else', async () => {
    const decision = await decide(pod, vmi);
    expect(decision.kind).toBe('patch');
    if (decision.kind !== 'patch') return;
    const patched = fastJsonPatch.applyPatch(structuredClone(pod), decision.ops as Operation[], true, false).newDocument;
    validatePod(patched);
    const ours = (name: string) => mountsOf(patched, name).filter((m) => ['shared-dir', 'ovs-run-dir', 'podinfo'].includes(m.name));
    expect(ours('compute')).toEqual([
      { name: 'shared-dir', mountPath: `${SHARED_DIR}/` },
      { name: 'ovs-run-dir', mountPath: '/var/run/openvswitch/', readOnly: true },
      { name: 'podinfo', mountPath: '/etc/podnetinfo' },
    ]);
    for (const c of sidecars) expect(ours(c.name)).toEqual([{ name: 'shared-dir', mountPath: `${SHARED_DIR}/` }, { name: 'podinfo', mountPath: '/etc/podnetinfo' }]);
    for (const c of containersOf(pod).filter((c) => c.name !== 'compute' && !sidecars.includes(c))) {
      expect([c.name, mountsOf(patched, c.name)]).toEqual([c.name, c.volumeMounts ?? []]);
    }
    // The webhook's own output needs nothing more.
    const again = await decide(patched, vmi);
    expect(again).toMatchObject({ kind: 'allow', reason: 'already-mutated' });
  });

  it('decides from the pod alone where it can (offline): our sidecar is the evidence from 1.1 on', async () => {
    const decision = await decide(pod, undefined);
    expect(decision.kind).toBe(tag === 'v0.53.0' ? 'allow' : 'patch');
  });

  it('mounts nothing into a hook sidecar of another image', async () => {
    const other = structuredClone(pod);
    for (const c of containersOf(other)) if (/^hook-sidecar-/.test(c.name)) c.image = 'ghcr.io/example/kubevirt-vhostuser:0.0.9';
    const decision = await decide(other, vmi);
    expect(decision.kind).toBe('patch'); // the VMI still asks for vhost-user: compute gets its volumes
    if (decision.kind !== 'patch') return;
    const patched = fastJsonPatch.applyPatch(structuredClone(other), decision.ops as Operation[], true, false).newDocument;
    for (const c of sidecars) {
      // v1.9 still names the binding, so only the image rule is attacked there when the env is gone.
      if (tag === 'v1.9.0') continue;
      expect(mountsOf(patched, c.name)).toEqual(c.volumeMounts ?? []);
    }
  });
});

describe('KubeVirt v0.53.0 (patched virt-launcher): the converter', () => {
  it('resolves the seeds’ dialect (vhostuser: {}) from the ordinal-named annotations to the stable socket', () => {
    const annotations = parseDownwardApiFile(readFileSync(join(RELEASES_DIR, 'v0.53.0/annotations'), 'utf8'));
    const { interfaces } = convert({ annotations, vmi: yamlOf('v0.53.0', 'vmi.yaml') });
    expect(interfaces.map((i) => [i.vmiInterface, i.podInterface, i.socketPath, i.mode])).toEqual([['dpdk-net', 'net1', STABLE, 'server']]);
  });
});

interface RunningSidecar {
  readonly child: ChildProcess;
  readonly socket: string;
  readonly exit: Promise<number | null>;
}

/**
 * The real command as KubeVirt starts it (no arguments but the test's paths), in a private mount
 * namespace whose /var/lib is a fresh tmpfs holding the shared dir, as the pod's emptyDir would.
 */
async function startSidecar(dir: string, networkInfo: string): Promise<RunningSidecar> {
  const socket = join(dir, 'vhostuser.sock');
  const script = `mount -t tmpfs tmpfs /var/lib && mkdir -p ${SHARED_DIR} && chown 0 ${SHARED_DIR} && exec "$0" "$@"`;
  const args = [join(ROOT, 'bin/kubevirt-vhostuser.js'), 'hook-sidecar', '--socket', socket, '--podinfo', join(dir, 'podinfo'), '--network-info', networkInfo, '--wait', '5'];
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, process.execPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('"serving KubeVirt hook callbacks"')) resolve();
    });
    void exit.then((code) => reject(new Error(`hook-sidecar exited (${code}) before serving: ${stderr}`)));
  });
  return { child, socket, exit };
}

describe.each(cases.filter(([tag]) => tag !== 'v0.53.0'))('KubeVirt %s%s: the hook sidecar', (tag, variant) => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('answers OnDefineDomain at the release’s hook version with a domain libvirt accepts, after linking the CNI’s socket name', async () => {
    const rel = release(tag);
    const dir = await mkdtemp(join(tmpdir(), 'kvr-'));
    dirs.push(dir);
    await mkdir(join(dir, 'podinfo'));
    await copyFile(join(RELEASES_DIR, tag, `annotations${variant}`), join(dir, 'podinfo/annotations'));
    const networkInfo = join(RELEASES_DIR, tag, 'network-info');
    // KubeVirt mounts /etc/podinfo/network-info only for a binding with downwardAPI: device-info.
    const sidecar = await startSidecar(dir, variant === '' ? join(dir, 'no-network-info') : networkInfo);
    const info = hookClient(sidecar.socket, services.info);
    try {
      const offered = (await info.call('Info')) as { versions: string[]; hookPoints: { name: string }[] };
      // virt-launcher takes the first of its own versions that the sidecar offers.
      const version = rel.hookApiVersions.find((v) => offered.versions.includes(v));
      expect(version).toBe(tag === 'v1.1.0' ? 'v1alpha2' : 'v1alpha3');
      const callbacks = hookClient(sidecar.socket, services.callbacks[version as 'v1alpha2' | 'v1alpha3']);
      try {
        const vmi = yamlOf(tag, 'vmi.yaml');
        const xml = resultXml(await callbacks.call('OnDefineDomain', defineRequest(domainFixture('kubevirt-hooks'), vmi)));
        expect(xml).toContain(`<source type='unix' path='${STABLE}' mode='server'/>`);
        expect(xml).toContain("<alias name='ua-dpdk-net'/>");
        const annotations = parseDownwardApiFile(readFileSync(join(dir, 'podinfo/annotations'), 'utf8'));
        const cniName = (JSON.parse(annotations.get('userspace/configuration-data') ?? '[]') as { config: { vhost: { socketfile: string } } }[])[0]?.config.vhost.socketfile;
        expect(await readlink(`/proc/${sidecar.child.pid}/root${SHARED_DIR}/${cniName}`)).toBe(stableSocketName('dpdk-net'));
        const validation = await validateDomainXml(xml);
        expect(validation.parser, validation.output).toBe(true);
        if (rel.shutdownHook) await callbacks.call('Shutdown');
        else sidecar.child.kill('SIGTERM');
      } finally {
        callbacks.close();
      }
    } finally {
      info.close();
    }
    expect(await sidecar.exit).toBe(0);
  });
});
