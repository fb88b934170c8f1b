// The flags the Deployment passes are ones the webhook accepts: render, take the container args,
// and parse them with the webhook's own parseWebhookArgs, for each TLS mode and non-default values.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';
import { template } from '../helpers/helm.js';
import { nonDefaultWebhook, podOf, realCaPem, tlsModes, type Values } from './scenarios.js';

/** The container args after the `webhook` subcommand, as cli/main.ts hands them over. */
async function webhookArgs(values: Values): Promise<string[]> {
  const args = podOf(await template({ values })).container['args'] as string[];
  expect(args[0]).toBe('webhook');
  return args.slice(1);
}

let modes: Record<string, Values>;
beforeAll(async () => {
  modes = tlsModes(await realCaPem());
});

describe('Deployment args', () => {
  it.each(['selfSigned', 'certManager', 'certManager with own issuer', 'secret'])(
    'parse with the default values in TLS mode %s',
    async (mode) => {
      const config = parseWebhookArgs(await webhookArgs(modes[mode] ?? {}));
      expect(config.tls).toEqual({
        kind: 'files',
        certFile: '/etc/kubevirt-vhostuser/tls/tls.crt',
        keyFile: '/etc/kubevirt-vhostuser/tls/tls.key',
      });
      expect(config.listen).toEqual({ host: '0.0.0.0', port: 8443 });
      expect(config.metricsListen).toEqual({ host: '0.0.0.0', port: 8444 });
      expect(config.offline).toBe(false);
    },
  );

  it('carry the chart defaults into the webhook configuration', async () => {
    const config = parseWebhookArgs(await webhookArgs({}));
    expect(config).toMatchObject({
      controllerIdentities: ['system:serviceaccount:kubevirt:kubevirt-controller'],
      bindingNames: ['vhostuser'],
      denyForged: false,
      lookupTimeoutMs: 2000,
      bodyLimitBytes: 3145728,
      maxInflightBodyBytes: 16777216,
      maxNadLookups: 16,
      logLevel: 'info',
      tlsPollIntervalMs: 10000,
      drainTimeoutMs: 20000,
      volumes: {
        sharedDir: { name: 'shared-dir', mountPath: '/var/lib/cni/usrcni/' },
        ovsRunDir: { name: 'ovs-run-dir', hostPath: '/var/run/openvswitch/', mountPath: '/var/run/openvswitch/', writable: false },
        podinfo: { name: 'podinfo', mountPath: '/etc/podnetinfo', inSidecars: true },
      },
      sidecarSocketDirs: [],
    });
    expect(config.sidecarSocketGroup).toBeUndefined();
  });

  it.each(['selfSigned', 'certManager', 'secret'])('carry every non-default webhook value in TLS mode %s', async (mode) => {
    const config = parseWebhookArgs(await webhookArgs({ ...modes[mode], ...nonDefaultWebhook, 'webhook.drainTimeoutMs': 0 }));
    expect(config).toMatchObject({
      listen: { host: '::', port: 9443 },
      metricsListen: { host: '::', port: 9444 },
      controllerIdentities: nonDefaultWebhook['webhook.controllerIdentities'],
      bindingNames: ['vhostuser', 'dpdk'],
      denyForged: true,
      offline: true,
      lookupTimeoutMs: 25000,
      bodyLimitBytes: 4194304,
      maxInflightBodyBytes: 33554432,
      maxNadLookups: 4,
      logLevel: 'debug',
      drainTimeoutMs: 0,
      volumes: {
        sharedDir: { name: 'usrcni', mountPath: '/var/lib/cni/usrspcni/' },
        ovsRunDir: { name: 'ovs-run', hostPath: '/run/openvswitch', mountPath: '/run/openvswitch', writable: true },
        podinfo: { name: 'podnetinfo', mountPath: '/etc/podnetinfo', inSidecars: false },
      },
      sidecarSocketDirs: ['/var/run/vhost-sockets', '/run/openvswitch/vhost_sockets/'],
      sidecarSocketGroup: 2001,
    });
  });

  it('pass extraArgs through, where the webhook judges them', async () => {
    const config = parseWebhookArgs(await webhookArgs({ 'webhook.extraArgs': ['--kubeconfig', '/etc/kube/config'] }));
    expect(config.kubeconfig).toBe('/etc/kube/config');
    // A flag the webhook does not know fails at parse time, which is what this test relies on.
    const bad = await webhookArgs({ 'webhook.extraArgs': ['--no-such-flag'] });
    expect(() => parseWebhookArgs(bad)).toThrow(/no-such-flag/);
  });
});

describe('Deployment shutdown timing', () => {
  it('gives the pod time for the preStop delay and the drain', async () => {
    const objects = await template({ values: { 'webhook.preStopDelaySeconds': 7, 'webhook.drainTimeoutMs': 12500 } });
    const { spec, container } = podOf(objects);
    expect(spec['terminationGracePeriodSeconds']).toBe(7 + 13 + 5);
    expect(container['lifecycle'].preStop.exec.command).toEqual(['node', '-e', 'setTimeout(() => {}, 7000)']);
    const none = podOf(await template({ values: { 'webhook.preStopDelaySeconds': 0 } }));
    expect(none.container['lifecycle']).toBeUndefined();
  });
});
