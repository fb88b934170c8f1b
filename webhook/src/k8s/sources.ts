// Pure. The lookups the webhook may make against the Kubernetes API, as small interfaces so the
// app never imports @kubernetes/client-node (only k8s/client.ts does, lazily) and tests can pass
// hand-written fakes. Also the deadline that keeps every lookup bounded.
import { WebhookError } from '../errors.js';

/** The part of a Kubernetes object every lookup result has. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly uid?: string };
  readonly [key: string]: unknown;
}

export interface LookupOptions {
  /** Aborts when the request's lookup budget (--lookup-timeout-ms) is spent. */
  readonly signal: AbortSignal;
}

/**
 * Reads VirtualMachineInstances. Resolves `undefined` when there is none of that name and uid
 * (a cached one with another uid is stale: read again); rejects on API errors.
 */
export interface VmiSource {
  getVmi(namespace: string, name: string, uid: string, opts: LookupOptions): Promise<KubeObject | undefined>;
}

/** Reads NetworkAttachmentDefinitions; `undefined` when absent; rejects on API errors. */
export interface NadSource {
  getNad(namespace: string, name: string, opts: LookupOptions): Promise<KubeObject | undefined>;
}

/** The lookups an app is given. Offline: neither source. */
export interface Lookups {
  readonly vmi?: VmiSource;
  readonly nad?: NadSource;
  /** What is not ready yet (unsynced caches, a client still loading); empty when ready. */
  pending(): readonly string[];
  close(): Promise<void>;
}

/** No API access (--offline): only the pod's own evidence counts. */
export function offlineLookups(): Lookups {
  return { pending: () => [], close: async () => {} };
}

/** A VmiSource over objects already in hand (the `mutate --vmi` file, tests). */
export function staticVmiSource(vmis: readonly KubeObject[]): VmiSource {
  return {
    getVmi: async (namespace, name, uid) =>
      vmis.find(
        (v) =>
          v.metadata?.name === name &&
          (v.metadata.namespace ?? namespace) === namespace &&
          (uid === '' || v.metadata.uid === undefined || v.metadata.uid === uid),
      ),
  };
}

/**
 * Waits for `promise` until `signal` aborts. A timeout becomes E_LOOKUP_TIMEOUT, any other
 * failure E_LOOKUP_FAILED; both answer HTTP 500 so the API server applies the failurePolicy.
 */
export function withDeadline<T>(promise: Promise<T>, signal: AbortSignal, what: string, timeoutMs: number): Promise<T> {
  const timeout = () =>
    new WebhookError('E_LOOKUP_TIMEOUT', `${what}: no answer within ${timeoutMs} ms (--lookup-timeout-ms)`);
  if (signal.aborted) return Promise.reject(timeout());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(timeout());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) reject(timeout());
        else if (err instanceof WebhookError) reject(err);
        else {
          const why = err instanceof Error ? err.message : String(err);
          reject(new WebhookError('E_LOOKUP_FAILED', `${what}: ${why}`, {}, { cause: err }));
        }
      },
    );
  });
}
