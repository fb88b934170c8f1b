// I/O edge, and the ONLY importer of @kubernetes/client-node (≈1 s to import): loaded with a
// dynamic import() after the server listens, never in --offline mode. VMIs and NADs come from
// watch-backed caches (informers), with a direct read on a miss or a stale uid.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import { WebhookError } from '../errors.js';
import type { KubeObject, Lookups, LookupOptions } from './sources.js';

export interface ClientLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ConnectOptions {
  /** --kubeconfig; else in-cluster; else KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig?: string;
  readonly log: ClientLog;
  /** Longest wait between informer restarts after errors. */
  readonly maxBackoffMs?: number;
  /** A list that has not answered by then is abandoned and retried (undici's own limit is 5 min). */
  readonly listTimeoutMs?: number;
}

interface Resource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

export const VMI_RESOURCE: Resource = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' };
export const NAD_RESOURCE: Resource = { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions' };

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function loadConfig(k8s: typeof K8s, kubeconfig: string | undefined): K8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  else if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined && existsSync(SA_TOKEN)) kc.loadFromCluster();
  else if (process.env['KUBECONFIG'] || existsSync(join(homedir(), '.kube', 'config'))) kc.loadFromDefault();
  else {
    // loadFromDefault would fall back to http://localhost:8080 and fail every watch obscurely.
    throw new WebhookError(
      'E_CONFIG_INVALID',
      'no Kubernetes API access: not in a cluster, no KUBECONFIG, no ~/.kube/config; pass --kubeconfig FILE or run with --offline',
    );
  }
  return kc;
}

/**
 * Call options that abort the HTTP request when `signal` does. The object API hands options to
 * the observable API as they are, so the middleware must return Observables: promise middleware
 * fails every call ("toPromise is not a function").
 */
function abortOn(k8s: typeof K8s, signal: AbortSignal): K8s.ConfigurationOptions {
  const { Observable } = k8s;
  return {
    middleware: [{ pre: (ctx) => (ctx.setSignal(signal), new Observable(Promise.resolve(ctx))), post: (ctx) => new Observable(Promise.resolve(ctx)) }],
    middlewareMergeStrategy: 'append',
  };
}

/** undici reports "fetch failed" and hides the reason in `cause`: show both. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** An informer-backed cache of one cluster-wide resource, with a direct read on a miss. */
class CachedResource {
  private synced = false;
  private stopped = false;
  private backoffMs = 500;
  private readonly informer: K8s.Informer<K8s.KubernetesObject> & K8s.ObjectCache<K8s.KubernetesObject>;

  constructor(
    private readonly k8s: typeof K8s,
    kc: K8s.KubeConfig,
    private readonly api: K8s.CustomObjectsApi,
    private readonly res: Resource,
    private readonly log: ClientLog,
    private readonly maxBackoffMs: number,
    listTimeoutMs: number,
  ) {
    const { group, version, plural } = res;
    this.informer = k8s.makeInformer(kc, `/apis/${group}/${version}/${plural}`, async () => {
      try {
        // Bounded: a list left hanging would keep the cache unsynced with no retry at all.
        const options = abortOn(k8s, AbortSignal.timeout(listTimeoutMs));
        return (await api.listClusterCustomObject({ group, version, plural }, options)) as K8s.KubernetesListObject<K8s.KubernetesObject>;
      } catch (err) {
        // The CRD is not installed (no NADs without Multus): nothing to cache, reads say "absent".
        if (statusOf(err) === 404 && !this.synced) {
          this.synced = true;
          log.warn({ resource: `${plural}.${group}` }, 'resource not served by the API; treating it as empty');
        }
        throw err;
      }
    });
    this.informer.on('error', (err: unknown) => this.restart(err));
  }

  get name(): string {
    return `${this.res.plural}.${this.res.group}`;
  }

  isSynced(): boolean {
    return this.synced;
  }

  async start(): Promise<void> {
    if (this.stopped) return; // a restart timer that fired after close()
    let failed = false;
    const onError = () => (failed = true);
    this.informer.on('error', onError);
    await this.informer.start();
    this.informer.off('error', onError);
    if (failed) return;
    // Healthy again: the next outage starts from the shortest wait, not from the last one's.
    this.backoffMs = 500;
    if (!this.synced) {
      this.synced = true;
      this.log.info({ resource: this.name, objects: this.informer.list().length }, 'cache synced');
    }
  }

  private restart(err: unknown): void {
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.log.warn({ resource: this.name, status: statusOf(err), err: describeError(err), retryInMs: delay }, 'watch failed; restarting');
    setTimeout(() => void this.start(), delay).unref();
  }

  async get(namespace: string, name: string, uid: string, opts: LookupOptions): Promise<KubeObject | undefined> {
    const cached = this.informer.get(name, namespace) as KubeObject | undefined;
    if (cached !== undefined && (uid === '' || cached.metadata?.uid === uid)) return cached;
    try {
      // Abort the HTTP request itself when the request's lookup budget is spent.
      const options = abortOn(this.k8s, opts.signal);
      const fresh = (await this.api.getNamespacedCustomObject({ ...this.res, namespace, name }, options)) as KubeObject;
      return uid === '' || fresh.metadata?.uid === uid ? fresh : undefined;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }
}

/**
 * Connects to the API and starts the VMI and NAD caches. Resolves once the client is loaded;
 * `pending()` lists the caches still syncing.
 */
export async function connectKubernetes(opts: ConnectOptions): Promise<Lookups> {
  const k8s = await import('@kubernetes/client-node');
  const kc = loadConfig(k8s, opts.kubeconfig);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const listTimeout = opts.listTimeoutMs ?? 30_000;
  const vmis = new CachedResource(k8s, kc, api, VMI_RESOURCE, opts.log, maxBackoff, listTimeout);
  const nads = new CachedResource(k8s, kc, api, NAD_RESOURCE, opts.log, maxBackoff, listTimeout);
  void vmis.start();
  void nads.start();
  return {
    vmi: { getVmi: (ns, name, uid, o) => vmis.get(ns, name, uid, o) },
    nad: { getNad: (ns, name, o) => nads.get(ns, name, '', o) },
    pending: () => [vmis, nads].filter((c) => !c.isSynced()).map((c) => `${c.name} cache`),
    close: async () => {
      await Promise.all([vmis.stop(), nads.stop()]);
    },
  };
}
