// values.schema.json and the chart's cross-value checks: wrong values stop `helm template` with a
// message that names the value, instead of rendering something the cluster would reject later.
import { describe, expect, it } from 'vitest';
import { tryTemplate } from '../helpers/helm.js';
import type { Values } from './scenarios.js';

describe('values.schema.json', () => {
  it.each<[string, Values, string]>([
    ['a wrong type', { replicaCount: 'two' }, "at '/replicaCount': got string, want integer"],
    ['a wrong type deeper down', { 'webhook.denyForged': 'yes' }, "at '/webhook/denyForged': got string, want boolean"],
    ['an unknown TLS mode', { 'tls.mode': 'acme' }, "at '/tls/mode': value must be one of 'selfSigned', 'certManager', 'secret'"],
    ['a timeout over 30 s', { 'webhook.timeoutSeconds': 31 }, "at '/webhook/timeoutSeconds': maximum: got 31, want 30"],
    ['a timeout of 0', { 'webhook.timeoutSeconds': 0 }, "at '/webhook/timeoutSeconds': minimum: got 0, want 1"],
    ['a failurePolicy other than Fail/Ignore', { 'webhook.failurePolicy': 'Retry' }, "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'"],
    ['replicas < 1', { replicaCount: 0 }, "at '/replicaCount': minimum: got 0, want 1"],
    ['an unknown key (typo)', { 'webhook.failurePolicyy': 'Fail' }, "at '/webhook': additional properties 'failurePolicyy' not allowed"],
    ['an unknown top-level key', { replicas: 3 }, "additional properties 'replicas' not allowed"],
    ['an unknown log level', { 'webhook.logLevel': 'verbose' }, "at '/webhook/logLevel': value must be one of"],
    ['a relative mount path', { 'webhook.volumes.podinfo.mountPath': 'etc/podnetinfo' }, "at '/webhook/volumes/podinfo/mountPath'"],
    ['a writable flag that is not a boolean', { 'webhook.volumes.ovsRunDir.writable': 'yes' }, "at '/webhook/volumes/ovsRunDir/writable': got string, want boolean"],
    ['a relative socket directory', { 'sidecar.socketDirs': ['run/vhost'] }, "at '/sidecar/socketDirs/0'"],
    ['the root as a socket directory', { 'sidecar.socketDirs': ['/run/vhost', '/'] }, "at '/sidecar/socketDirs/1'"],
    ['a socket directory with a .. segment', { 'sidecar.socketDirs': ['/var/lib/cni/usrcni/../../../var/run/openvswitch'] }, "at '/sidecar/socketDirs/0'"],
    ['a socket directory ending in ..', { 'sidecar.socketDirs': ['/run/vhost/..'] }, "at '/sidecar/socketDirs/0'"],
    ['a socket directory with a comma', { 'sidecar.socketDirs': ['/run/a,/var/run/openvswitch'] }, "at '/sidecar/socketDirs/0'"],
    ['a socket directory with a newline', { 'sidecar.socketDirs': ['/run/vhost\n'] }, "at '/sidecar/socketDirs/0'"],
    ['a socket directory with a C1 control character', { 'sidecar.socketDirs': ['/run/\u0085vhost'] }, "at '/sidecar/socketDirs/0'"],
    ['the same socket directory twice', { 'sidecar.socketDirs': ['/run/vhost', '/run/vhost'] }, "at '/sidecar/socketDirs'"],
    ['socket directories that are no list', { 'sidecar.socketDirs': '/run/vhost' }, "at '/sidecar/socketDirs': got string, want array"],
    ['the root group as the socket group', { 'sidecar.socketGroup': 0 }, "at '/sidecar/socketGroup'"],
    ['a group name as the socket group', { 'sidecar.socketGroup': 'hugetlbfs' }, "at '/sidecar/socketGroup'"],
    ['a socket group above the largest group ID', { 'sidecar.socketGroup': 4294967295 }, "at '/sidecar/socketGroup'"],
    ['a volume name that is no DNS label', { 'webhook.volumes.sharedDir.name': 'Shared_Dir' }, "at '/webhook/volumes/sharedDir/name'"],
    ['a privileged port', { 'webhook.port': 443 }, "at '/webhook/port': minimum: got 443, want 1,024"],
    ['no controller identity', { 'webhook.controllerIdentities': [] }, "at '/webhook/controllerIdentities': minItems"],
    ['root as the user', { runAsUser: 0 }, "at '/runAsUser'"],
    ['a malformed image digest', { 'image.digest': 'latest' }, "at '/image/digest'"],
    ['the development certificate flag', { 'webhook.extraArgs': ['--dev-cert'] }, "at '/webhook/extraArgs/0'"],
    ['tls.mode secret without a Secret name', { 'tls.mode': 'secret', 'tls.secret.caBundle': '-----BEGIN CERTIFICATE-----' }, "at '/tls/secret/name'"],
    ['tls.mode secret without a CA bundle', { 'tls.mode': 'secret', 'tls.secret.name': 'x' }, "at '/tls/secret/caBundle'"],
    ['an issuerRef of the wrong kind', { 'tls.mode': 'certManager', 'tls.certManager.issuerRef': { name: 'x', kind: 'Vault' } }, "at '/tls/certManager/issuerRef'"],
    ['a duration that is not one', { 'tls.certManager.duration': '1 year' }, "at '/tls/certManager/duration'"],
    ['an alert error ratio over 1', { 'prometheusRule.errorRatio': 5 }, "at '/prometheusRule/errorRatio': maximum: got 5, want 1"],
    ['a latency fraction of 0', { 'prometheusRule.latencyTimeoutFraction': 0 }, "at '/prometheusRule/latencyTimeoutFraction'"],
    ['a series selector with braces', { 'prometheusRule.selector': '{job="x"}' }, "at '/prometheusRule/selector'"],
    ['a series selector that closes its braces early', { 'prometheusRule.selector': 'job="x"}) or vector(1' }, "at '/prometheusRule/selector'"],
    ['an alert label that Prometheus cannot take', { 'prometheusRule.alertLabels': { 'team-name': 'net' } }, "invalid propertyName 'team-name'"],
    ['certificate expiry days that are not whole', { 'prometheusRule.certificateExpiryDays': 0.5 }, "at '/prometheusRule/certificateExpiryDays': got number, want integer"],
    ['a dashboard namespace that is no DNS label', { 'grafanaDashboard.namespace': 'Monitoring' }, "at '/grafanaDashboard/namespace'"],
    ['an unknown dashboard key', { 'grafanaDashboard.folder': 'x' }, "at '/grafanaDashboard': additional properties 'folder' not allowed"],
  ])('rejects %s', async (_case, values, message) => {
    const run = await tryTemplate({ values });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain("values don't meet the specifications of the schema");
    expect(run.stderr).toContain(message);
  });

  it('accepts the defaults and values of the right shape', async () => {
    const run = await tryTemplate({
      values: { 'webhook.timeoutSeconds': 30, 'webhook.failurePolicy': 'Ignore', replicaCount: 1, 'sidecar.socketDirs': ['/run/a..b', '/var/run/openvswitch2/'] },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('cross-value checks', () => {
  it.each<[string, Values, string]>([
    [
      'a lookup timeout that does not fit in the admission timeout',
      { 'webhook.timeoutSeconds': 5, 'webhook.lookupTimeoutMs': 4500 },
      'webhook.lookupTimeoutMs (4500) must be at least 1000 ms below webhook.timeoutSeconds (5 s)',
    ],
    ...['/var/run/openvswitch', '/var/run/openvswitch/vhost_sockets/'].map((dir): [string, Values, string] => [
      `a socket directory ${dir} inside the read-only OVS run directory`,
      { 'sidecar.socketDirs': ['/run/vhost', dir] },
      `sidecar.socketDirs entry "${dir}" is inside webhook.volumes.ovsRunDir.mountPath (/var/run/openvswitch/), which compute mounts read-only`,
    ]),
    [
      'a renewal window longer than the certificate lives',
      { 'tls.selfSigned.validityDays': 90, 'tls.selfSigned.renewBeforeDays': 90 },
      'tls.selfSigned.renewBeforeDays (90) must be below tls.selfSigned.validityDays (90)',
    ],
  ])('rejects %s', async (_case, values, message) => {
    const run = await tryTemplate({ values });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
  });
});
