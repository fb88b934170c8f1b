import { packageVersion } from '../../cli/package.js';
import { describe, expect, it } from 'vitest';
import { parseWebhookArgs } from '../../webhook/src/config.js';

const TLS = ['--tls-cert', '/certs/tls.crt', '--tls-key', '/certs/tls.key'];

describe('parseWebhookArgs', () => {
  it('fills every default', () => {
    expect(parseWebhookArgs(TLS)).toEqual({
      controllerIdentities: ['system:serviceaccount:kubevirt:kubevirt-controller'],
      bindingNames: ['vhostuser'],
      denyForged: false,
      kubeOvn: false,
      volumes: {
        sharedDir: { name: 'shared-dir', mountPath: '/var/lib/cni/usrcni/' },
        ovsRunDir: { name: 'ovs-run-dir', hostPath: '/var/run/openvswitch/', mountPath: '/var/run/openvswitch/', writable: false },
        podinfo: { name: 'podinfo', mountPath: '/etc/podnetinfo', inSidecars: true },
      },
      sidecarSocketDirs: [],
      sidecarImages: [],
      version: packageVersion(),
      listen: { host: '0.0.0.0', port: 8443 },
      tls: { kind: 'files', certFile: '/certs/tls.crt', keyFile: '/certs/tls.key' },
      offline: false,
      lookupTimeoutMs: 2000,
      bodyLimitBytes: 3 * 1024 * 1024,
      maxInflightBodyBytes: 16 * 1024 * 1024,
      maxNadLookups: 16,
      logLevel: 'info',
      tlsPollIntervalMs: 10_000,
      drainTimeoutMs: 20_000,
    });
  });

  it('reads every flag, in the --flag=value form a Deployment passes', () => {
    const c = parseWebhookArgs([
      '--listen=[::]:9443',
      '--tls-cert=/c',
      '--tls-key=/k',
      '--kubeconfig=/kc',
      '--controller-identity=system:serviceaccount:kv:kubevirt-controller',
      '--controller-identity=system:serviceaccount:kv2:kubevirt-controller',
      '--binding-name=vhostuser',
      '--binding-name=dpdk',
      '--deny-forged',
      '--lookup-timeout-ms=500',
      '--shared-dir-volume=vhu',
      '--shared-dir-mount-path=/var/run/vhu',
      '--ovs-run-dir-volume=ovs',
      '--ovs-run-dir-host-path=/run/openvswitch',
      '--ovs-run-dir-mount-path=/run/openvswitch',
      '--ovs-run-dir-writable',
      '--podinfo-volume=podnetinfo',
      '--podinfo-mount-path=/etc/podnetinfo',
      '--podinfo-in-sidecars=false',
      '--sidecar-socket-dir=/var/run/vhost-sockets/',
      '--sidecar-socket-dir=/run/openvswitch/vhost_sockets',
      '--sidecar-socket-dir=/var/run/vhost-sockets/',
      '--body-limit-bytes=65536',
      '--max-inflight-body-bytes=65536',
      '--max-nad-lookups=0',
      '--log-level=debug',
      '--tls-poll-interval-ms=1000',
      '--drain-timeout-ms=0',
    ]);
    expect(c).toMatchObject({
      listen: { host: '::', port: 9443 },
      kubeconfig: '/kc',
      controllerIdentities: ['system:serviceaccount:kv:kubevirt-controller', 'system:serviceaccount:kv2:kubevirt-controller'],
      bindingNames: ['vhostuser', 'dpdk'],
      denyForged: true,
      lookupTimeoutMs: 500,
      volumes: {
        sharedDir: { name: 'vhu', mountPath: '/var/run/vhu' },
        ovsRunDir: { name: 'ovs', hostPath: '/run/openvswitch', mountPath: '/run/openvswitch', writable: true },
        podinfo: { name: 'podnetinfo', mountPath: '/etc/podnetinfo', inSidecars: false },
      },
      // In flag order, repeats once; inside the OVS run dir is fine because it is writable here.
      sidecarSocketDirs: ['/var/run/vhost-sockets/', '/run/openvswitch/vhost_sockets'],
      bodyLimitBytes: 65536,
      maxInflightBodyBytes: 65536,
      maxNadLookups: 0,
      logLevel: 'debug',
      tlsPollIntervalMs: 1000,
      drainTimeoutMs: 0,
    });
  });

  it.each([
    [['--dev-cert', '--offline', '--listen', '127.0.0.1:0'], { tls: { kind: 'dev' }, offline: true, listen: { host: '127.0.0.1', port: 0 } }],
    [[...TLS, '--listen=:::8443'], { listen: { host: '::', port: 8443 } }],
    [[...TLS, '--deny-forged=false', '--offline=true'], { denyForged: false, offline: true }],
    [[...TLS, '--ovs-run-dir-writable=false'], { volumes: { ovsRunDir: { writable: false } } }],
    [[...TLS, '--ovs-run-dir-writable=true'], { volumes: { ovsRunDir: { writable: true } } }],
    // Next to, not inside, the read-only OVS run directory.
    [[...TLS, '--sidecar-socket-dir', '/var/run/openvswitch2'], { sidecarSocketDirs: ['/var/run/openvswitch2'] }],
    [[...TLS, '--sidecar-socket-dir', '/var/run/a..b/'], { sidecarSocketDirs: ['/var/run/a..b/'] }],
  ])('accepts %j', (args, want) => {
    expect(parseWebhookArgs(args)).toMatchObject(want);
  });

  it.each([
    [['--tls-cert', '/c'], '--tls-key missing: serve with --tls-cert FILE --tls-key FILE, or --dev-cert for local use'],
    [[], '--tls-cert and --tls-key missing: serve with --tls-cert FILE --tls-key FILE, or --dev-cert for local use'],
    [['--dev-cert', ...TLS], '--dev-cert cannot be combined with --tls-cert/--tls-key'],
    [['--dev-cert', '--offline', '--kubeconfig', '/kc'], '--kubeconfig cannot be combined with --offline'],
    [['--dev-cert', '--lookup-timeout-ms', 'abc'], '--lookup-timeout-ms: expected an integer from 50 to 29000 (got "abc")'],
    [['--dev-cert', '--lookup-timeout-ms', '30000'], '--lookup-timeout-ms: expected an integer from 50 to 29000 (got "30000")'],
    [['--dev-cert', '--max-nad-lookups', '257'], '--max-nad-lookups: expected an integer from 0 to 256 (got "257")'],
    [['--dev-cert', '--max-inflight-body-bytes=1k'], '--max-inflight-body-bytes: expected an integer from 1024 to 1073741824 (got "1k")'],
    [['--dev-cert', '--max-inflight-body-bytes', '1048576'], '--max-inflight-body-bytes (1048576) must be at least --body-limit-bytes (3145728)'],
    [['--dev-cert', '--listen', '8443'], '--listen: expected host:port (or [v6]:port) with a port from 0 to 65535 (got "8443")'],
    [['--dev-cert', '--listen', '0.0.0.0:99999'], '--listen: expected host:port (or [v6]:port) with a port from 0 to 65535 (got "0.0.0.0:99999")'],
    [['--dev-cert', '--shared-dir-volume', 'Shared_Dir'], '--shared-dir-volume: expected a DNS-1123 label (a-z, 0-9, "-", at most 63) (got "Shared_Dir")'],
    [['--dev-cert', '--podinfo-mount-path', 'etc/podnetinfo'], '--podinfo-mount-path: expected an absolute path (got "etc/podnetinfo")'],
    [['--dev-cert', '--ovs-run-dir-host-path', '/'], '--ovs-run-dir-host-path: expected a directory below / (got "/")'],
    [['--dev-cert', '--podinfo-in-sidecars', 'yes'], '--podinfo-in-sidecars: expected true or false (got "yes")'],
    [['--dev-cert', '--log-level', 'loud'], '--log-level: expected one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [['--dev-cert', '--binding-name='], '--binding-name: expected a non-empty value (got [""])'],
    [['--dev-cert', '--podinfo-volume', 'shared-dir'], '--podinfo-volume and --shared-dir-volume name the same volume "shared-dir"'],
    [['--dev-cert', '--podinfo-mount-path', '/var/lib/cni/usrcni'], '--podinfo-mount-path and --shared-dir-mount-path name the same mount path "/var/lib/cni/usrcni"'],
    [['--dev-cert', '--no-such-flag'], "Unknown option '--no-such-flag'"],
    [['--dev-cert', 'extra'], "Unexpected argument 'extra'"],
    [['--dev-cert', '--offline=maybe'], "Option '--offline' does not take an argument"],
    [['--dev-cert', '--ovs-run-dir-writable', 'yes'], "Unexpected argument 'yes'"],
    [['--dev-cert', '--sidecar-socket-dir', 'run/vhost'], '--sidecar-socket-dir: "run/vhost" is not an absolute path (got ["run/vhost"])'],
    [['--dev-cert', '--sidecar-socket-dir='], '--sidecar-socket-dir: "" is not an absolute path (got [""])'],
    [['--dev-cert', '--sidecar-socket-dir', '/'], '--sidecar-socket-dir: "/" is the root directory, which would allow any socket path (got ["/"])'],
    [['--dev-cert', '--sidecar-socket-dir', '//'], '--sidecar-socket-dir: "//" is the root directory, which would allow any socket path (got ["//"])'],
    [['--dev-cert', '--sidecar-socket-dir', '/var/lib/cni/usrcni/../../../etc'], `--sidecar-socket-dir: "/var/lib/cni/usrcni/../../../etc" contains a '..' segment (got ["/var/lib/cni/usrcni/../../../etc"])`],
    [['--dev-cert', '--sidecar-socket-dir', '/run/vhost/..'], `--sidecar-socket-dir: "/run/vhost/.." contains a '..' segment (got ["/run/vhost/.."])`],
    [['--dev-cert', '--sidecar-socket-dir', '/run/vhost\n'], '--sidecar-socket-dir: "/run/vhost\\n" contains a control character (got ["/run/vhost\\n"])'],
    [['--dev-cert', '--sidecar-socket-dir', '/run/\u0000x'], '--sidecar-socket-dir: "/run/\\u0000x" contains a control character (got ["/run/\\u0000x"])'],
    [['--dev-cert', '--sidecar-socket-dir', '/run/\u0085x'], '--sidecar-socket-dir: "/run/\u0085x" contains a control character (got ["/run/\u0085x"])'],
    [['--dev-cert', '--sidecar-socket-dir', '/run/a,/'], `--sidecar-socket-dir: "/run/a,/" contains ',', which separates the entries of KUBEVIRT_VHOSTUSER_SOCKET_DIRS (got ["/run/a,/"])`],
    [['--dev-cert', '--sidecar-socket-dir', '/run/ok', '--sidecar-socket-dir', 'bad'], '--sidecar-socket-dir: "bad" is not an absolute path (got ["/run/ok","bad"])'],
    ...['/var/run/openvswitch', '/var/run/openvswitch/vhost_sockets/', '/var/run//openvswitch/./vhost_sockets'].map((dir): [string[], string] => [
      ['--dev-cert', '--sidecar-socket-dir', dir],
      `--sidecar-socket-dir ${JSON.stringify(dir)} is inside --ovs-run-dir-mount-path "/var/run/openvswitch/", which compute mounts read-only, ` +
        'so QEMU could not create its sockets there; pick another directory or add --ovs-run-dir-writable (see docs/threat-model.md)',
    ]),
  ])('rejects %j naming the flag', (args, message) => {
    expect(() => parseWebhookArgs(args)).toThrow(expect.objectContaining({ code: 'E_CONFIG_INVALID', message }));
  });
});
