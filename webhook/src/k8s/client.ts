// I/O edge, and the ONLY importer of @kubernetes/client-node (≈1 s to import): loaded with a
// dynamic import() after the server listens, never in --offline mode. VMIs and NADs come from
// watch-backed caches (informers), with a direct read on a miss or a stale uid.
//
// The caches hold projections (project.ts), never whole objects. client-node 2.x has no informer
// transform hook, so objects are projected where they enter the cache: list pages are read as
// a stream (list-stream.ts) instead of by the generated client, which would parse the whole list
// at once, and watch events pass through a Watch whose callback projects each object before the
// informer stores it. Direct reads are projected too, and at most MAX_DIRECT_READS run at once.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import { WebhookError } from '../errors.js';
import { readListStream, type KeepSpec, type ListMeta } from './list-stream.js';
import { NAD_LIST_FIELDS, VMI_LIST_FIELDS, isPartial, projectNad, projectVmi } from './project.js';
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
  /** What the list reader keeps of each item. */
  readonly fields: KeepSpec;
  /** The cached form of an object; `omitted` lists fields the list reader left out. */
  readonly project: (obj: unknown, omitted?: readonly string[]) => KubeObject;
  /** The form a direct read returns (not kept): may hold more than the cache would. */
  readonly projectRead: (obj: unknown) => KubeObject;
}

export const VMI_RESOURCE: Resource = {
  group: 'kubevirt.io',
  version: 'v1',
  plural: 'virtualmachineinstances',
  fields: VMI_LIST_FIELDS,
  project: projectVmi,
  projectRead: projectVmi,
};
export const NAD_RESOURCE: Resource = {
  group: 'k8s.cni.cncf.io',
  version: 'v1',
  plural: 'network-attachment-definitions',
  fields: NAD_LIST_FIELDS,
  project: projectNad,
  projectRead: (obj) => projectNad(obj, [], Infinity),
};

/** Items per list page: client-go's page size, so the API server serves it as it would a reflector. */
export const LIST_PAGE_SIZE = 500;
/**
 * Direct reads in flight per resource. Each parses a whole object (up to the API server's
 * 3 MiB) and the reviews that trigger them can come from anyone on the pod network, so more
 * wait their turn (within their lookup deadline) rather than pile up in memory.
 */
export const MAX_DIRECT_READS = 8;

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

/** An HTTP error of the API, with the status where statusOf() finds it. */
function apiError(status: number, what: string, body: string): Error {
  let message = body.trim();
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status object: the text as it came
  }
  return Object.assign(new Error(`${what}: HTTP ${status}${message === '' ? '' : `: ${message.slice(0, 300)}`}`), { code: status });
}

/** At most the first `max` bytes of a body, as text; the rest is cancelled unread. */
async function boundedText(body: ReadableStream<Uint8Array> | null, max: number): Promise<string> {
  if (body === null) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = body.getReader();
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/** Waits for one of `max` slots, or rejects when `signal` aborts first. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async enter(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    if (this.active < this.max) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      this.waiting.push(go);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands the slot to the next waiter, if any. */
  leave(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active--;
  }
}

/** An informer-backed cache of one cluster-wide resource, with a direct read on a miss. */
class CachedResource {
  private synced = false;
  private stopped = false;
  private backoffMs = 500;
  private readonly informer: K8s.Informer<K8s.KubernetesObject> & K8s.ObjectCache<K8s.KubernetesObject>;
  private readonly http: K8s.IsomorphicFetchHttpLibrary;
  private readonly reads = new Gate(MAX_DIRECT_READS);

  constructor(
    private readonly k8s: typeof K8s,
    private readonly kc: K8s.KubeConfig,
    private readonly api: K8s.CustomObjectsApi,
    private readonly res: Resource,
    private readonly log: ClientLog,
    private readonly maxBackoffMs: number,
    private readonly listTimeoutMs: number,
  ) {
    const { group, version, plural } = res;
    const path = `/apis/${group}/${version}/${plural}`;
    this.http = new k8s.IsomorphicFetchHttpLibrary();
    const project = res.project;
    // The informer stores what the watch callback hands it: hand it the projection.
    class ProjectingWatch extends k8s.Watch {
      override watch(...[watchPath, params, callback, done]: Parameters<K8s.Watch['watch']>): Promise<AbortController> {
        return super.watch(watchPath, params, (phase, obj) => callback(phase, phase === 'ERROR' ? obj : project(obj)), done);
      }
    }
    const list = async () => {
      try {
        return await this.listAll(path);
      } catch (err) {
        // The CRD is not installed (no NADs without Multus): nothing to cache, reads say "absent".
        if (statusOf(err) === 404 && !this.synced) {
          this.synced = true;
          log.warn({ resource: `${plural}.${group}` }, 'resource not served by the API; treating it as empty');
        }
        throw err;
      }
    };
    // autoStart false: start() begins the first list, as makeInformer's informer does.
    this.informer = new k8s.ListWatch(path, new ProjectingWatch(kc), list, false);
    this.informer.on('error', (err: unknown) => this.restart(err));
  }

  get name(): string {
    return `${this.res.plural}.${this.res.group}`;
  }

  /** Every page of the list, each item projected as it streams in. */
  private async listAll(path: string): Promise<K8s.KubernetesListObject<K8s.KubernetesObject>> {
    const items: K8s.KubernetesObject[] = [];
    let resourceVersion = '';
    let token = '';
    do {
      const page = await this.listPage(path, token, items);
      // All pages of one list are one snapshot; the first page's version is the list's.
      if (resourceVersion === '') resourceVersion = page.resourceVersion;
      token = page.continue;
    } while (token !== '');
    return { metadata: { resourceVersion }, items };
  }

  private async listPage(path: string, token: string, into: K8s.KubernetesObject[]): Promise<ListMeta> {
    const server = this.kc.getCurrentCluster()?.server;
    if (server === undefined) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(`${server}${path}`);
    url.searchParams.set('limit', String(LIST_PAGE_SIZE));
    if (token !== '') url.searchParams.set('continue', token);
    const ctx = new this.k8s.RequestContext(url.toString(), this.k8s.HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    await this.kc.applySecurityAuthentication(ctx);
    // Bounded per page: a list left hanging would keep the cache unsynced with no retry at all.
    ctx.setSignal(AbortSignal.timeout(this.listTimeoutMs));
    const what = `list ${this.name}`;
    const response = await this.http.send(ctx).toPromise();
    const body = response.body.stream();
    if (response.httpStatusCode !== 200) throw apiError(response.httpStatusCode, what, await boundedText(body, 4096));
    if (body === null) throw new Error(`${what}: HTTP 200 without a body`);
    const project = this.res.project;
    return readListStream(body, this.res.fields, ({ object, omitted }) => void into.push(project(object, omitted) as K8s.KubernetesObject));
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
    if (cached !== undefined && !isPartial(cached) && (uid === '' || cached.metadata?.uid === uid)) return cached;
    await this.reads.enter(opts.signal);
    try {
      // Abort the HTTP request itself when the request's lookup budget is spent.
      const options = abortOn(this.k8s, opts.signal);
      const { group, version, plural } = this.res;
      const whole: unknown = await this.api.getNamespacedCustomObject({ group, version, plural, namespace, name }, options);
      const fresh = this.res.projectRead(whole);
      return uid === '' || fresh.metadata?.uid === uid ? fresh : undefined;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    } finally {
      this.reads.leave();
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
