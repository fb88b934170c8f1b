// The gRPC layer over a real unix socket: Info, every Callbacks version, pass-through of
// PreCloudInitIso, error statuses for bad requests (and serving on after them), concurrency,
// Shutdown, and a stale socket from an earlier run.
import { readFileSync } from 'node:fs';
import { lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDownwardApiFile, parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import { startSidecar } from '../../sidecar/src/sidecar.js';
import {
  defineRequest,
  domainFixture,
  hookClient,
  leaveStaleSocket,
  memoryLog,
  resultXml,
  services,
  sidecarCase,
  socketDir,
  startTestSidecar,
  type TestSidecar,
} from './helpers.js';

const { podinfo, vmiJson } = sidecarCase('binding-hashed');
const domain = domainFixture('kubevirt-hooks');

/** The gRPC status and message a call failed with. */
async function failure(call: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as ServiceError;
    return { code: status[e.code], details: e.details };
  }
  throw new Error('expected the call to fail');
}

describe('hook sidecar gRPC server', () => {
  let t: TestSidecar;
  let good: string;
  beforeAll(async () => {
    t = await startTestSidecar({ rewrite: converterRewrite(podinfo, { links: 'where-visible' }), waitMs: 200 });
    good = resultXml(await t.onDefineDomain(defineRequest(domain, vmiJson)));
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers Info with its versions, newest first, and its hook points', async () => {
    expect(await t.info.call('Info')).toMatchInlineSnapshot(`
      {
        "hookPoints": [
          {
            "name": "OnDefineDomain",
            "priority": 0,
          },
          {
            "name": "Shutdown",
            "priority": 0,
          },
        ],
        "name": "kubevirt-vhostuser",
        "versions": [
          "v1alpha3",
          "v1alpha2",
          "v1alpha1",
        ],
      }
    `);
  });

  it('gives the same answer on every Callbacks version', async () => {
    expect(good).toContain("<alias name='ua-dpdk1'/>");
    for (const version of ['v1alpha2', 'v1alpha1'] as const) {
      const res = await t.callbacks(version).call('OnDefineDomain', defineRequest(domain, vmiJson));
      expect(resultXml(res), version).toBe(good);
    }
  });

  it('returns a domain byte for byte when the VMI has no vhost-user interface', async () => {
    const vmi = JSON.parse(vmiJson) as { spec: { domain: { devices: { interfaces: unknown[] } } } };
    vmi.spec.domain.devices.interfaces = [{ name: 'default', masquerade: {} }];
    const odd = `${domain}\n<!-- trailing -->  `;
    expect(resultXml(await t.onDefineDomain(defineRequest(odd, vmi)))).toBe(odd);
  });

  it('passes PreCloudInitIso data through unchanged', async () => {
    const req = { cloudInitNoCloudSource: Buffer.from('{"userData":"#cloud-config"}'), cloudInitData: Buffer.from('{"dataSource":"NoCloud"}'), vmi: Buffer.from(vmiJson) };
    for (const version of ['v1alpha3', 'v1alpha2'] as const) {
      const res = await t.callbacks(version).call('PreCloudInitIso', req);
      expect(res).toEqual({ cloudInitNoCloudSource: req.cloudInitNoCloudSource, cloudInitData: req.cloudInitData });
    }
  });

  it.each([
    ['VMI that is not JSON', 'INVALID_ARGUMENT', defineRequest(domain, '{"metadata": '), /^the VMI is not valid JSON: /],
    ['VMI that is a JSON array', 'INVALID_ARGUMENT', defineRequest(domain, '[]'), /^the VMI JSON is an array; expected a VirtualMachineInstance object$/],
    ['VMI with interfaces that are not a list', 'INVALID_ARGUMENT', defineRequest(domain, { metadata: { name: 'x' }, spec: { domain: { devices: { interfaces: {} } } } }), /^VMI x spec\.domain\.devices\.interfaces: Invalid input: expected array, received object/],
    ['VMI bytes that are not UTF-8', 'INVALID_ARGUMENT', { domainXML: Buffer.from(domain), vmi: Buffer.from([0x7b, 0xff, 0x7d]) }, /^request field vmi is not valid UTF-8$/],
    ['domain that is not XML', 'INVALID_ARGUMENT', defineRequest('<domain><devices>', vmiJson), /^VMI vms\/vm-dpdk: domain XML line 1/],
    ['empty domain', 'INVALID_ARGUMENT', defineRequest('', vmiJson), /^VMI vms\/vm-dpdk: the domain XML is empty$/],
  ])('rejects a %s with %s, then serves the next call', async (_what, code, req, details) => {
    const got = await failure(t.onDefineDomain(req));
    expect(got.code).toBe(code);
    expect(got.details).toMatch(details);
    expect(resultXml(await t.onDefineDomain(defineRequest(domain, vmiJson)))).toBe(good);
  });

  it('answers 20 concurrent calls, each with the full result', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => t.onDefineDomain(defineRequest(domain, vmiJson))));
    expect(new Set(results.map(resultXml))).toEqual(new Set([good]));
  });

  it('logs one JSON line per call, naming failures', () => {
    const failed = t.lines.filter((l) => l['msg'] === 'OnDefineDomain failed');
    expect(failed.length).toBeGreaterThanOrEqual(6);
    expect(failed[0]).toMatchObject({ level: 40, component: 'hook-sidecar', status: 'INVALID_ARGUMENT' });
    expect(t.lines.some((l) => l['msg'] === 'OnDefineDomain done')).toBe(true);
  });
});

describe('hook sidecar: pods that are not ready', () => {
  let dir: string;
  let t: TestSidecar | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvh-podinfo-'));
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers DEADLINE_EXCEEDED naming the interfaces whose annotations never came, then recovers', async () => {
    const full = parseDownwardApiFile(readFileSync(join(podinfo, 'annotations'), 'utf8'));
    const partial = new Map([...full].filter(([k]) => k !== 'k8s.v1.cni.cncf.io/network-status'));
    await writeFile(join(dir, 'annotations'), formatDownwardApiFile(partial));
    t = await startTestSidecar({ rewrite: converterRewrite(dir, { links: 'where-visible' }), waitMs: 300 });
    const got = await failure(t.onDefineDomain(defineRequest(domain, vmiJson)));
    expect(got.code).toBe('DEADLINE_EXCEEDED');
    expect(got.details).toMatch(/^VMI vms\/vm-dpdk: .*annotations: still missing after 0\.3s: .*dpdk0.*dpdk1/);
    // The CNI catches up (kubelet rewrites the file): the retry succeeds.
    await writeFile(join(dir, 'annotations'), formatDownwardApiFile(full));
    expect(resultXml(await t.onDefineDomain(defineRequest(domain, vmiJson)))).toContain("<alias name='ua-dpdk0'/>");
  });

  it('answers FAILED_PRECONDITION when the podinfo volume is not mounted', async () => {
    const s = await startTestSidecar({ rewrite: converterRewrite(join(dir, 'not-mounted'), { links: 'where-visible' }), waitMs: 100 });
    try {
      const got = await failure(s.onDefineDomain(defineRequest(domain, vmiJson)));
      expect(got).toEqual({
        code: 'FAILED_PRECONDITION',
        details: expect.stringMatching(/^VMI vms\/vm-dpdk: cannot read .*not-mounted: no such file or directory \(hint: mount the pod annotations/),
      });
    } finally {
      await s.close();
    }
  });

  it("stops waiting before the caller's deadline and answers with its own reason", async () => {
    const s = await startTestSidecar({ rewrite: converterRewrite(dir, { links: 'where-visible' }), waitMs: 30_000 });
    try {
      await writeFile(join(dir, 'annotations'), formatDownwardApiFile({ 'kubevirt.io/domain': 'vm-dpdk' }));
      // 2.5 s deadline - 2 s margin: the converter waits about 0.5 s, not 30 s.
      const got = await failure(s.onDefineDomain(defineRequest(domain, vmiJson), { deadline: new Date(Date.now() + 2_500) }));
      expect(got.code).toBe('DEADLINE_EXCEEDED');
      expect(got.details).toMatch(/^VMI vms\/vm-dpdk: .*still missing after/);
    } finally {
      await s.close();
    }
  });
});

describe('hook sidecar lifecycle', () => {
  it('stops on Shutdown: answers, drains, removes its socket', async () => {
    const t = await startTestSidecar({ rewrite: converterRewrite(podinfo, { links: 'where-visible' }) });
    await expect(t.callbacks().call('Shutdown')).resolves.toEqual({});
    await expect(t.sidecar.stopped).resolves.toBe('Shutdown call');
    await expect(lstat(t.socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await t.close();
  });

  it('replaces a stale socket left by a killed run, and says so', async () => {
    const dir = await socketDir();
    const socketPath = join(dir, 'vhostuser.sock');
    leaveStaleSocket(socketPath);
    const { log, lines } = memoryLog();
    const sidecar = await startSidecar({ socketPath, waitMs: 0, bindingNames: ['vhostuser'] }, { log, rewrite: converterRewrite(podinfo, { links: 'where-visible' }) });
    const info = hookClient(socketPath, services.info);
    try {
      expect(await info.call('Info')).toMatchObject({ name: 'kubevirt-vhostuser' });
      expect(lines[0]).toMatchObject({ level: 40, msg: 'replaced a stale socket left by a previous run', socket: socketPath });
    } finally {
      info.close();
      await sidecar.stop('test done');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
