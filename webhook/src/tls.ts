// I/O edge for the serving certificate: read and check the PEM pair, watch the files and hand a
// new pair over only when both files parse and match. Kubernetes Secret volumes swap a `..data`
// symlink, so the directories are watched, with polling as the fallback for missed events.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyPair } from './app.js';
import { WebhookError } from './errors.js';

/** Throws E_TLS unless `cert` is a certificate whose public key belongs to `key`. */
export function checkKeyPair(pair: KeyPair, where: string): X509Certificate {
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
  return cert;
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
  checkKeyPair(pair, `${certFile} + ${keyFile}`);
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
  /** Called when the files changed but are not (yet) a valid pair; the old pair stays. */
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
        const cert = checkKeyPair(next, `${opts.certFile} + ${opts.keyFile}`);
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
