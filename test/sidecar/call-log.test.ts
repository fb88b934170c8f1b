// The sidecar's one line per OnDefineDomain call, read back from a real pino destination (a file)
// while the real converter serves the call over the unix socket: the VMI, and for each interface
// the socket QEMU uses, the CNI's socket it is linked to, and the annotation the path came from.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { stableSocketName } from '../../converter/src/index.js';
import { createLogger } from '../../sidecar/src/log.js';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import { startSidecar } from '../../sidecar/src/sidecar.js';
import { defineRequest, domainFixture, hookClient, services, sidecarCase, socketDir, type HookClient } from './helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A sidecar whose log goes to a file, serving `podinfo`; returns a client and the lines written. */
async function sidecarLoggingTo(podinfo: string) {
  const dir = await socketDir();
  const logDir = await mkdtemp(join(tmpdir(), 'sidecar-call-log-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }), () => rm(logDir, { recursive: true, force: true }));
  const file = join(logDir, 'log');
  const log = createLogger({ destination: pino.destination({ dest: file, sync: true }) });
  const socketPath = join(dir, 'vhostuser.sock');
  const sidecar = await startSidecar({ socketPath, waitMs: 0, bindingNames: ['vhostuser'] }, { log, rewrite: converterRewrite(podinfo, { links: 'where-visible' }) });
  const client: HookClient = hookClient(socketPath, services.callbacks.v1alpha3);
  cleanup.push(async () => {
    client.close();
    await sidecar.stop('test done');
  });
  const lines = async () => (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { client, lines };
}

const doneLine = async (lines: () => Promise<Record<string, unknown>[]>) => (await lines()).filter((l) => l['msg'] === 'OnDefineDomain done');

describe('the per-call log line', () => {
  it('names the VMI and, per interface, the socket, its CNI path and the network-status annotation it came from', async () => {
    const { podinfo, vmiJson } = sidecarCase('binding-hashed');
    const { client, lines } = await sidecarLoggingTo(podinfo);
    await client.call('OnDefineDomain', defineRequest(domainFixture('kubevirt-hooks'), vmiJson));
    const [line, ...more] = await doneLine(lines);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 30, component: 'hook-sidecar', call: 1, vmi: 'vms/vm-dpdk' });
    expect(line?.['interfaces']).toEqual([
      {
        name: 'dpdk0',
        socket: `/var/lib/cni/usrcni/${stableSocketName('dpdk0')}`,
        cniSocket: '/var/lib/cni/usrcni/5f0c1e9a7b3d-pod0234249e469',
        source: 'k8s.v1.cni.cncf.io/network-status',
        podInterface: 'pod0234249e469',
      },
      {
        name: 'dpdk1',
        socket: `/var/lib/cni/usrcni/${stableSocketName('dpdk1')}`,
        cniSocket: '/var/lib/cni/usrcni/5f0c1e9a7b3d-pod34040c6f57d',
        source: 'k8s.v1.cni.cncf.io/network-status',
        podInterface: 'pod34040c6f57d',
      },
    ]);
  });

  it('names userspace/configuration-data when the path came from the userspace CNI', async () => {
    const { podinfo, vmiJson } = sidecarCase('vhostuser-ordinal');
    const { client, lines } = await sidecarLoggingTo(podinfo);
    await client.call('OnDefineDomain', defineRequest(domainFixture('kubevirt-hooks'), vmiJson));
    const [line] = await doneLine(lines);
    const ifaces = line?.['interfaces'] as Record<string, unknown>[];
    expect(ifaces.map((i) => [i['name'], i['podInterface']])).toEqual([
      ['vhost-user-net-1', 'net1'],
      ['vhost-user-net-2', 'net2'],
    ]);
    for (const i of ifaces) expect(i['source']).toBe('userspace/configuration-data');
  });

  it('logs a VMI without vhost-user interfaces with none, and a failed call with its VMI, status and code', async () => {
    const { podinfo, vmiJson } = sidecarCase('binding-hashed');
    const { client, lines } = await sidecarLoggingTo(join(podinfo, 'not-there'));
    const vmi = JSON.parse(vmiJson) as { spec: { domain: { devices: { interfaces: Record<string, unknown>[] } } } };
    const plain = structuredClone(vmi);
    plain.spec.domain.devices.interfaces = plain.spec.domain.devices.interfaces.filter((i) => i['binding'] === undefined && i['vhostuser'] === undefined);
    await client.call('OnDefineDomain', defineRequest(domainFixture('kubevirt-hooks'), plain));
    await expect(client.call('OnDefineDomain', defineRequest(domainFixture('kubevirt-hooks'), vmi))).rejects.toMatchObject({ code: 9 });
    const all = await lines();
    expect(all.find((l) => l['msg'] === 'OnDefineDomain done')).toMatchObject({ vmi: 'vms/vm-dpdk', interfaces: [] });
    const failed = all.find((l) => l['msg'] === 'OnDefineDomain failed');
    expect(failed).toMatchObject({ level: 40, status: 'FAILED_PRECONDITION', code: 'E_PODINFO_READ' });
    expect(failed?.['error']).toMatch(/^VMI vms\/vm-dpdk: /);
  });
});
