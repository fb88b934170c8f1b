// Test helpers for the hook sidecar: a temp socket dir, a running sidecar, and promisified gRPC
// clients that speak the hook protocol over the real unix socket, as virt-launcher does.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type Client, type ServiceError, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { findPackageRoot } from '../../sidecar/src/proto.js';
import { createLogger, type Logger } from '../../sidecar/src/log.js';
import { startSidecar, type RunningSidecar, type SidecarDeps } from '../../sidecar/src/sidecar.js';
import { HOOK_VERSIONS, type HookVersion } from '../../sidecar/src/constants.js';

export interface HookServices {
  readonly info: ServiceDefinition;
  readonly callbacks: Readonly<Record<HookVersion, ServiceDefinition>>;
}

/**
 * The hook services as a real gRPC client sees them: grpc-js with the package's .proto files
 * parsed by proto-loader (protobufjs), independent of the sidecar's own wire code.
 */
export function loadHookServices(protoDir: string = join(findPackageRoot(), 'proto')): HookServices {
  const files = ['kubevirt/hooks/info/api_info.proto', ...HOOK_VERSIONS.map((v) => `kubevirt/hooks/${v}/api_${v}.proto`)];
  // keepCase: the wire names are camelCase already (domainXML, hookPoints); bytes stay Buffers.
  const defs = loadSync(files, { includeDirs: [protoDir], keepCase: true, defaults: true, longs: String });
  const service = (name: string): ServiceDefinition => {
    const def = (defs as PackageDefinition)[name];
    if (def === undefined || 'format' in def) throw new Error(`service ${name} not found in the hook protocol files`);
    return def as ServiceDefinition;
  };
  const callbacks = Object.fromEntries(HOOK_VERSIONS.map((v) => [v, service(`kubevirt.hooks.${v}.Callbacks`)])) as Record<HookVersion, ServiceDefinition>;
  return { info: service('kubevirt.hooks.info.Info'), callbacks };
}

export const services: HookServices = loadHookServices();

/** A fresh directory for sockets; short, because sun_path holds 107 bytes. */
export async function socketDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'kvh-'));
}

/** Collects the sidecar's JSON log lines. */
export function memoryLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({ destination: { write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) }, level: 'debug' }) };
}

type Unary = (req: object, opts?: { deadline?: Date }) => Promise<Record<string, unknown>>;

export interface HookClient {
  call(method: string, req?: object, opts?: { deadline?: Date }): Promise<Record<string, unknown>>;
  close(): void;
}

/** A client for one service on the socket. */
export function hookClient(socketPath: string, service: ServiceDefinition): HookClient {
  const Ctor = makeGenericClientConstructor(service, 'hooks');
  const client = new Ctor(`unix://${socketPath}`, credentials.createInsecure()) as Client & Record<string, Function>;
  const call: HookClient['call'] = (method, req = {}, opts = {}) =>
    new Promise((resolve, reject) => {
      const fn = client[method];
      if (typeof fn !== 'function') throw new Error(`no method ${method}`);
      fn.call(client, req, opts, (err: ServiceError | null, res: Record<string, unknown>) => (err ? reject(err) : resolve(res)));
    });
  return { call, close: () => client.close() };
}

export interface TestSidecar {
  readonly dir: string;
  readonly socketPath: string;
  readonly sidecar: RunningSidecar;
  readonly lines: Record<string, unknown>[];
  readonly info: HookClient;
  callbacks(version?: HookVersion): HookClient;
  onDefineDomain: Unary;
  close(): Promise<void>;
}

export interface TestSidecarOptions {
  rewrite: SidecarDeps['rewrite'];
  bindingNames?: readonly string[];
  waitMs?: number;
}

/** Starts a sidecar on a temp socket; `close()` stops it and deletes the directory. */
export async function startTestSidecar(opts: TestSidecarOptions): Promise<TestSidecar> {
  const dir = await socketDir();
  const socketPath = join(dir, 'vhostuser.sock');
  const { log, lines } = memoryLog();
  const sidecar = await startSidecar(
    { socketPath, waitMs: opts.waitMs ?? 2_000, bindingNames: opts.bindingNames ?? ['vhostuser'] },
    { log, rewrite: opts.rewrite },
  );
  const clients: HookClient[] = [];
  const open = (def: ServiceDefinition): HookClient => {
    const c = hookClient(socketPath, def);
    clients.push(c);
    return c;
  };
  const info = open(services.info);
  const v3 = open(services.callbacks.v1alpha3);
  return {
    dir,
    socketPath,
    sidecar,
    lines,
    info,
    callbacks: (version = 'v1alpha3') => (version === 'v1alpha3' ? v3 : open(services.callbacks[version])),
    onDefineDomain: (req, o) => v3.call('OnDefineDomain', req, o),
    async close() {
      for (const c of clients) c.close();
      await sidecar.stop('test done');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The request virt-launcher sends: both fields as bytes. */
export function defineRequest(domainXml: string | Buffer, vmi: unknown): { domainXML: Buffer; vmi: Buffer } {
  return {
    domainXML: Buffer.isBuffer(domainXml) ? domainXml : Buffer.from(domainXml),
    vmi: Buffer.isBuffer(vmi) ? vmi : Buffer.from(typeof vmi === 'string' ? vmi : JSON.stringify(vmi)),
  };
}

/** The XML text of an OnDefineDomain answer. */
export function resultXml(res: Record<string, unknown>): string {
  const bytes = res['domainXML'];
  if (!Buffer.isBuffer(bytes)) throw new Error('answer has no domainXML bytes');
  return bytes.toString('utf8');
}

/** A socket file whose server died without cleaning up, as after a crash or SIGKILL. */
export function leaveStaleSocket(path: string): void {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  const res = spawnSync(process.execPath, ['-e', script], { stdio: 'ignore' });
  if (res.signal !== 'SIGKILL') throw new Error(`helper did not die as planned: ${res.status} ${res.signal}`);
}

/** Repository paths of the sidecar fixtures. */
export const FIXTURES = join(import.meta.dirname, '../../fixtures');
export const SIDECAR_CASES = ['binding-hashed', 'vhostuser-ordinal'] as const;
export type SidecarCase = (typeof SIDECAR_CASES)[number];

/** The podinfo directory (with its `annotations` file) and the VMI JSON of a case. */
export function sidecarCase(name: SidecarCase): { podinfo: string; vmiJson: string } {
  const podinfo = join(FIXTURES, 'sidecar/cases', name);
  return { podinfo, vmiJson: readFileSync(join(podinfo, 'vmi.json'), 'utf8') };
}

/** A domain from fixtures/domains/, or fixtures/sidecar/domains/ for a `sidecar/` name. */
export function domainFixture(name: string): string {
  const file = name.startsWith('sidecar/') ? join(FIXTURES, 'sidecar/domains', `${name.slice(8)}.xml`) : join(FIXTURES, 'domains', `${name}.xml`);
  return readFileSync(file, 'utf8');
}
