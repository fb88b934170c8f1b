// Test certificates made with the real openssl CLI: a CA and server certificates it signs, with
// the SANs a webhook Service needs (<svc>, <svc>.<ns>, <svc>.<ns>.svc). EC P-256 keeps it fast;
// RSA is there for the RSA cipher suites. openssl 3.0 cannot backdate a certificate, so the ones
// with chosen validity dates come from selfsigned (signed by the same CA).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

async function openssl(dir: string, args: readonly string[]): Promise<void> {
  await run('openssl', args, { cwd: dir }).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`openssl ${args[0] ?? ''} failed: ${err.stderr?.trim() || err.message}`);
  });
}

async function inTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'certs-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A self-signed CA valid for a day. */
export function makeCa(commonName = 'test-ca'): Promise<Pem> {
  return inTempDir(async (dir) => {
    await openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', `/CN=${commonName}`]);
    return { cert: await readFile(join(dir, 'ca.crt'), 'utf8'), key: await readFile(join(dir, 'ca.key'), 'utf8') };
  });
}

/** The DNS names of a Service as the API server dials it. */
export function serviceNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`];
}

export interface ServerCertOptions {
  /** `ec` (P-256, default) or `rsa` (2048 bits). */
  readonly keyType?: 'ec' | 'rsa';
}

/** A server certificate signed by `ca` for `dnsNames` and 127.0.0.1. */
export function makeServerCert(ca: Pem, dnsNames: readonly string[], commonName = dnsNames[0] ?? 'server', opts: ServerCertOptions = {}): Promise<Pem> {
  const newKey = opts.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  return inTempDir(async (dir) => {
    await writeFile(join(dir, 'ca.crt'), ca.cert);
    await writeFile(join(dir, 'ca.key'), ca.key);
    const san = [...dnsNames.map((d) => `DNS:${d}`), 'IP:127.0.0.1'].join(',');
    await writeFile(join(dir, 'ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
    await openssl(dir, ['req', ...newKey, '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', `/CN=${commonName}`]);
    await openssl(dir, ['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '1', '-extfile', 'ext.cnf']);
    return { cert: await readFile(join(dir, 'tls.crt'), 'utf8'), key: await readFile(join(dir, 'tls.key'), 'utf8') };
  });
}

/**
 * A server certificate signed by `ca` for `dnsNames` and 127.0.0.1, valid from `notBefore` to
 * `notAfter` (either may lie in the past or the future).
 */
export async function makeServerCertValid(ca: Pem, dnsNames: readonly string[], notBefore: Date, notAfter: Date): Promise<Pem> {
  const { generate } = await import('selfsigned');
  const r = await generate([{ name: 'commonName', value: dnsNames[0] ?? 'server' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), { type: 7 as const, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: r.cert, key: r.private };
}
