// A stand-in for the Kubernetes API server, because no real one can run on this machine: HTTPS on
// 127.0.0.1 speaking just enough of the list/watch/get protocol for VirtualMachineInstances and
// NetworkAttachmentDefinitions to drive the webhook's real client (informers and direct reads).
// Faults (status codes, delays, hangs, being down) are switched on per request kind. Lists are
// paged (limit/continue) and streamed (chunked, `metadata` after `items` as the API server writes
// it), and generate() adds objects made on the fly as the list streams, so a list of 10 GB
// never exists anywhere: the webhook has to cope with it as it would with a real one.
// Imports only node: modules and packages, so bench/ scripts can load it with type stripping.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type StubKind = 'list' | 'watch' | 'get';
export type Fault = { readonly status: number } | { readonly delayMs: number } | { readonly hang: true };

export interface StubObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string };
  [key: string]: unknown;
}

interface Resource {
  readonly group: string;
  readonly plural: string;
  readonly kind: string;
}

const RESOURCES: Record<string, Resource> = {
  vmi: { group: 'kubevirt.io', plural: 'virtualmachineinstances', kind: 'VirtualMachineInstance' },
  nad: { group: 'k8s.cni.cncf.io', plural: 'network-attachment-definitions', kind: 'NetworkAttachmentDefinition' },
};
export type ResourceName = 'vmi' | 'nad';

interface WatchEvent {
  readonly rv: number;
  readonly resource: ResourceName;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: StubObject;
}

export interface StubRequest {
  readonly kind: StubKind;
  readonly resource: ResourceName;
  /** namespace/name for a get; the resourceVersion for list and watch. */
  readonly target: string;
  /** Set when the client went away before the stub answered. */
  aborted: boolean;
}

export interface K8sStubOptions {
  /** Keep this many events for watches resuming from an old resourceVersion; older ones get 410. */
  readonly eventWindow?: number;
  /** Delay before each watch event is written (watch lag of a busy API server). */
  readonly watchLagMs?: number;
}

const TOKEN = 'stub-token';

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Parses `/apis/<group>/v1[/namespaces/<ns>]/<plural>[/<name>]` into a resource and target. */
function route(url: URL): { resource: ResourceName; namespace?: string; name?: string } | undefined {
  const m = /^\/apis\/([^/]+)\/v1(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
  if (m === null) return undefined;
  const entry = Object.entries(RESOURCES).find(([, r]) => r.group === m[1] && r.plural === m[3]);
  if (entry === undefined) return undefined;
  return { resource: entry[0] as ResourceName, ...(m[2] === undefined ? {} : { namespace: m[2] }), ...(m[4] === undefined ? {} : { name: m[4] }) };
}

/** Objects made when a list streams them: `count` of them, item `i` as JSON text. */
export interface Generated {
  readonly count: number;
  readonly make: (i: number) => string;
}

export class K8sStub {
  readonly requests: StubRequest[] = [];
  /** Bytes of list responses written so far. */
  listBytes = 0;
  private readonly generated: Partial<Record<ResourceName, Generated>> = {};
  /** Faults by request kind; absent = answer normally. */
  readonly faults: Partial<Record<StubKind, Fault>> = {};
  private readonly store = new Map<string, StubObject>();
  private readonly events: WatchEvent[] = [];
  private readonly watchers = new Set<{ resource: ResourceName; res: ServerResponse }>();
  private rv = 1000;
  private server: Server | undefined;
  private port = 0;
  private cert = '';
  private key = '';
  private dir = '';
  private readonly eventWindow: number;
  private readonly watchLagMs: number;

  constructor(opts: K8sStubOptions = {}) {
    this.eventWindow = opts.eventWindow ?? 10_000;
    this.watchLagMs = opts.watchLagMs ?? 0;
  }

  /** Listens on 127.0.0.1 (a free port the first time, the same port after stop()). */
  async start(): Promise<void> {
    if (this.cert === '') {
      const { generate } = await import('selfsigned');
      const pair = await generate([{ name: 'commonName', value: 'kubernetes' }], {
        keyType: 'ec',
        algorithm: 'sha256',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
      });
      this.cert = pair.cert;
      this.key = pair.private;
    }
    const server = createServer({ cert: this.cert, key: this.key }, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Makes the API unreachable: closes the listener and cuts every connection, watches included. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  /** A kubeconfig file for the stub: its CA, its address, a bearer token. */
  async kubeconfig(): Promise<string> {
    if (this.dir === '') this.dir = await mkdtemp(join(tmpdir(), 'k8s-stub-'));
    const file = join(this.dir, 'kubeconfig');
    const ca = Buffer.from(this.cert).toString('base64');
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: stub\n  cluster:\n    server: https://127.0.0.1:${this.port}\n    certificate-authority-data: ${ca}`,
        `users:\n- name: stub\n  user:\n    token: ${TOKEN}`,
        'contexts:\n- name: stub\n  context:\n    cluster: stub\n    user: stub',
        'current-context: stub',
        '',
      ].join('\n'),
    );
    return file;
  }

  /** Adds or replaces an object (ADDED or MODIFIED for watchers); fills in uid and resourceVersion. */
  put(resource: ResourceName, object: StubObject): StubObject {
    const key = `${resource}/${object.metadata.namespace}/${object.metadata.name}`;
    const old = this.store.get(key);
    const rv = ++this.rv;
    const uid = object.metadata.uid ?? old?.metadata.uid ?? `uid-${rv}`;
    const stored: StubObject = { ...object, metadata: { ...object.metadata, uid, resourceVersion: String(rv) } };
    this.store.set(key, stored);
    this.emit({ rv, resource, type: old === undefined ? 'ADDED' : 'MODIFIED', object: stored });
    return stored;
  }

  /**
   * Lists of `resource` end with `count` generated objects, made one at a time while the list
   * streams (they are not in the store: watches and gets do not see them).
   */
  generate(resource: ResourceName, count: number, make: (i: number) => string): void {
    this.generated[resource] = { count, make };
  }

  remove(resource: ResourceName, namespace: string, name: string): void {
    const key = `${resource}/${namespace}/${name}`;
    const old = this.store.get(key);
    if (old === undefined) return;
    this.store.delete(key);
    const rv = ++this.rv;
    this.emit({ rv, resource, type: 'DELETED', object: { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } } });
  }

  count(kind: StubKind, resource?: ResourceName, target?: string): number {
    return this.requests.filter((r) => r.kind === kind && (resource === undefined || r.resource === resource) && (target === undefined || r.target === target)).length;
  }

  private emit(event: WatchEvent): void {
    this.events.push(event);
    if (this.events.length > this.eventWindow) this.events.splice(0, this.events.length - this.eventWindow);
    for (const w of this.watchers) if (w.resource === event.resource) this.write(w.res, event);
  }

  private write(res: ServerResponse, e: WatchEvent): void {
    const line = `${JSON.stringify({ type: e.type, object: this.typed(e.resource, e.object) })}\n`;
    if (this.watchLagMs === 0) res.write(line);
    else setTimeout(() => res.writable && res.write(line), this.watchLagMs).unref();
  }

  private typed(resource: ResourceName, o: StubObject): StubObject {
    const r = RESOURCES[resource] as Resource;
    return { apiVersion: `${r.group}/v1`, kind: r.kind, ...o };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (code: number, body: unknown) => {
      if (res.destroyed) return;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const url = new URL(req.url ?? '/', 'https://stub');
    const at = route(url);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, status(401, 'Unauthorized', 'Unauthorized'));
    if (req.method !== 'GET' || at === undefined) return send(404, status(404, 'NotFound', `the server could not find ${url.pathname}`));
    const kind: StubKind = at.name !== undefined ? 'get' : url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
    const seen: StubRequest = {
      kind,
      resource: at.resource,
      target: kind === 'get' ? `${at.namespace ?? ''}/${at.name ?? ''}` : (url.searchParams.get('resourceVersion') ?? ''),
      aborted: false,
    };
    this.requests.push(seen);
    res.on('close', () => {
      if (!res.writableFinished) seen.aborted = true;
    });

    const fault = this.faults[kind];
    if (fault !== undefined && 'hang' in fault) return; // never answers; the client must give up
    if (fault !== undefined && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault !== undefined && 'status' in fault) return send(fault.status, status(fault.status, fault.status === 403 ? 'Forbidden' : 'InternalError', `stub fault ${fault.status}`));

    const r = RESOURCES[at.resource] as Resource;
    if (kind === 'get') {
      const found = this.store.get(`${at.resource}/${at.namespace ?? ''}/${at.name ?? ''}`);
      if (found === undefined) return send(404, status(404, 'NotFound', `${r.plural}.${r.group} "${at.name ?? ''}" not found`));
      return send(200, this.typed(at.resource, found));
    }
    if (kind === 'list') return this.list(at.resource, url.searchParams, res);
    this.watch(at.resource, Number(url.searchParams.get('resourceVersion') ?? '0'), res);
  }

  /** One page of a list, streamed item by item; honours `limit` and `continue` (an offset). */
  private async list(resource: ResourceName, params: URLSearchParams, res: ServerResponse): Promise<void> {
    const r = RESOURCES[resource] as Resource;
    const stored = [...this.store.entries()].filter(([k]) => k.startsWith(`${resource}/`)).map(([, o]) => o);
    const gen = this.generated[resource];
    const total = stored.length + (gen?.count ?? 0);
    const limit = Number(params.get('limit') ?? '0');
    const from = Number(params.get('continue') ?? '0');
    const to = limit > 0 ? Math.min(total, from + limit) : total;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const write = async (text: string) => {
      this.listBytes += text.length;
      if (res.write(text)) return;
      // Waits for the client to read on (or to go away), leaving no listener behind.
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      });
    };
    await write(`{"apiVersion":"${r.group}/v1","items":[`);
    for (let i = from; i < to && !res.destroyed; i++) {
      const item = i < stored.length ? JSON.stringify(this.typed(resource, stored[i] as StubObject)) : (gen as Generated).make(i - stored.length);
      await write(i === from ? item : `,${item}`);
    }
    const next = to < total ? String(to) : '';
    if (!res.destroyed) res.end(`],"kind":"${r.kind}List","metadata":{"continue":${JSON.stringify(next)},"resourceVersion":"${this.rv}"}}`);
  }

  private watch(resource: ResourceName, from: number, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // the API server answers the headers at once, events or not
    const oldest = this.events[0]?.rv ?? this.rv + 1;
    if (from + 1 < oldest && from < this.rv) {
      // Too old to resume: the client must list again (HTTP 200 stream with an ERROR event, as the API server does).
      res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from}`) })}\n`);
      return;
    }
    for (const e of this.events) if (e.resource === resource && e.rv > from) this.write(res, e);
    const entry = { resource, res };
    this.watchers.add(entry);
    res.on('close', () => this.watchers.delete(entry));
  }
}
