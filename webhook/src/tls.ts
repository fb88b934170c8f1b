// I/O edge for the serving certificate: read and check the PEM pair, watch the files and hand a
// new pair over only when both files parse, match and are valid now. Kubernetes Secret volumes
// swap a `..data` symlink, so the directories are watched, with polling as the fallback for
// missed events. Also the TLS settings every secure context of the server gets.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyPair } from './app.js';
import { WebhookError } from './errors.js';

/**
 * TLS 1.2 cipher suites, in the server's order of preference: ECDHE key exchange only (forward
 * secrecy; no static RSA, whose recorded traffic a stolen key decrypts), AEAD ciphers only (no
 * CBC, the mode of Lucky13 and POODLE, hence no SHA-1 MACs either), for ECDSA and RSA keys alike.
 * TLS 1.3 keeps OpenSSL's default suites: Node sets those apart from this list.
 */
export const TLS12_CIPHERS: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/**
 * The TLS settings of every secure context the server makes, at start-up and at each reload:
 * setSecureContext() replaces the whole context, so a reload without them would fall back to
 * Node's defaults (static RSA and CBC suites included).
 */
export const TLS_POLICY = { minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS.join(':'), honorCipherOrder: true } as const;

/** Why a pair is refused: outside its validity period, or not a matching PEM pair at all. */
export type KeyPairRejection = 'expired' | 'not_yet_valid' | 'invalid';

/** The reason E_TLS errors of checkKeyPair carry in `details.reason` ('invalid' for any other error). */
export function rejectionReason(err: unknown): KeyPairRejection {
  const reason = err instanceof WebhookError ? err.details['reason'] : undefined;
  return reason === 'expired' || reason === 'not_yet_valid' ? reason : 'invalid';
}

/**
 * Throws E_TLS unless `now` lies within the validity period of `cert` (read from `certFile`).
 * The API server refuses such a certificate anyway; refusing it here keeps a reload from
 * replacing a working certificate with it, and makes start-up fail with the dates instead.
 */
function checkValidity(cert: X509Certificate, certFile: string, now: Date): void {
  const notBefore = cert.validFromDate;
  const notAfter = cert.validToDate;
  const reason: KeyPairRejection | undefined = now < notBefore ? 'not_yet_valid' : now > notAfter ? 'expired' : undefined;
  if (reason === undefined) return;
  const dates = { file: certFile, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), now: now.toISOString() };
  const what = reason === 'expired' ? `expired at ${dates.notAfter}` : `is not valid before ${dates.notBefore}`;
  throw new WebhookError(
    'E_TLS',
    `${certFile}: certificate ${what} (valid ${dates.notBefore} to ${dates.notAfter}, now ${dates.now}); renew the certificate or check the clock`,
    { reason, ...dates },
  );
}

/**
 * Throws E_TLS unless `cert` is a certificate whose public key belongs to `key` and that is
 * valid at `now`. `where` names both files, `certFile` the certificate alone.
 */
export function checkKeyPair(pair: KeyPair, where: string, certFile = where, now = new Date()): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
  } catch (err) {
    throw new WebhookError('E_TLS', `${where}: certificate is not PEM X.509: ${(err as Error).message}`);
  }
  let ok: boolean;
  try {
    ok = cert.checkPrivateKey(createPrivateKey(pair.key));
  } catch (err) {
    throw new WebhookError('E_TLS', `${where}: private key is not PEM: ${(err as Error).message}`);
  }
  if (!ok) throw new WebhookError('E_TLS', `${where}: private key does not match the certificate`);
  checkValidity(cert, certFile, now);
  return cert;
}

/** notAfter of the pair's (first) certificate; the pair has been checked already. */
export function certificateNotAfter(pair: KeyPair): Date {
  return new X509Certificate(pair.cert).validToDate;
}

/** Reads the pair at start-up. Synchronous on purpose: the first async fs call starts libuv's
 * thread pool, ~15 ms that /readyz would otherwise wait for. */
export function readKeyPair(certFile: string, keyFile: string): KeyPair {
  let pair: KeyPair;
  try {
    pair = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } catch (err) {
    throw new WebhookError('E_TLS', `cannot read --tls-cert/--tls-key: ${(err as Error).message}`);
  }
  checkKeyPair(pair, `${certFile} + ${keyFile}`, certFile);
  return pair;
}

/** A self-signed EC certificate for localhost, for local runs only (--dev-cert). */
export async function createDevKeyPair(): Promise<KeyPair> {
  const { generate } = await import('selfsigned');
  const r = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  return { cert: r.cert, key: r.private };
}

export interface KeyPairWatchOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** The pair being served now; a reload happens only when the files differ from it. */
  readonly current: KeyPair;
  readonly pollIntervalMs: number;
  /** Called with a checked pair; it must install it (server.setSecureContext). */
  onReload(pair: KeyPair, cert: X509Certificate): void;
  /**
   * Called once per refused pair when the files changed but are not (yet) a valid pair, or the
   * certificate is outside its validity period (rejectionReason(err) tells which); the old pair
   * stays. A pair refused as not yet valid is loaded by the first check after its notBefore.
   */
  onReject(err: Error): void;
}

/** Watches the pair; returns a function that stops watching. */
export function watchKeyPair(opts: KeyPairWatchOptions): () => void {
  let current = opts.current;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let lastRejected = '';

  const check = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      let next: KeyPair;
      try {
        const [cert, key] = await Promise.all([readFile(opts.certFile, 'utf8'), readFile(opts.keyFile, 'utf8')]);
        next = { cert, key };
      } catch {
        return; // mid-swap: a file is briefly missing; the next event or poll reads it again
      }
      if (next.cert === current.cert && next.key === current.key) return;
      try {
        const cert = checkKeyPair(next, `${opts.certFile} + ${opts.keyFile}`, opts.certFile);
        current = next;
        lastRejected = '';
        opts.onReload(next, cert);
      } catch (err) {
        // Report a given bad pair once, not on every poll.
        const id = next.cert + next.key;
        if (id !== lastRejected) opts.onReject(err as Error);
        lastRejected = id;
      }
    } finally {
      running = false;
      if (again) {
        again = false;
        void check();
      }
    }
  };
  // Events come in bursts (the cert, the key, the symlink): coalesce them.
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), 50);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(opts.certFile), dirname(opts.keyFile)])) {
    try {
      const w = watch(dir, { persistent: false }, soon);
      w.on('error', () => w.close()); // e.g. the directory vanished: polling carries on
      watchers.push(w);
    } catch {
      // Some filesystems cannot be watched; polling covers them.
    }
  }
  const poll = setInterval(() => void check(), opts.pollIntervalMs);
  poll.unref();
  return () => {
    clearInterval(poll);
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
