// A stand-in for the Kubernetes API server: no kube-apiserver can run in this environment (none
// in Debian or npm, nothing can be downloaded), so this serves the few paths k8s/client.ts uses,
// list, watch and get of VMIs and NADs, over HTTPS on 127.0.0.1 with a test CA. It lets the real
// @kubernetes/client-node informers and reads run against something.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeObject } from '../../webhook/src/k8s/sources.js';
import type { Pem } from '../helpers/certs.js';

interface Resource {
  readonly prefix: string; // /apis/<group>/<version>
  readonly plural: string;
  readonly kind: string;
  objects: KubeObject[];
  missing: boolean; // CRD not installed: every path 404
  watchers: Set<ServerResponse>;
}

export interface FakeApiServer {
  readonly url: string;
  /** Request lines seen, e.g. `GET /apis/kubevirt.io/v1/virtualmachineinstances`. */
  readonly requests: string[];
  /** Direct GETs of one object wait this long before answering. */
  getDelayMs: number;
  /** Adds or replaces an object and tells the watchers (ADDED / MODIFIED). */
  put(plural: 'virtualmachineinstances' | 'network-attachment-definitions', object: KubeObject, notify?: boolean): void;
  close(): Promise<void>;
}

let resourceVersion = 100;

function status(res: ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message, reason: code === 404 ? 'NotFound' : 'InternalError' }));
}

export interface FakeApiOptions {
  /** Serving certificate (for 127.0.0.1) and the CA the kubeconfig trusts. */
  readonly tls: Pem & { readonly ca: string };
  readonly vmis?: KubeObject[];
  readonly nads?: KubeObject[];
  readonly nadCrdMissing?: boolean;
}

export async function startFakeApiServer(options: FakeApiOptions): Promise<FakeApiServer> {
  const resources: Resource[] = [
    { prefix: '/apis/kubevirt.io/v1', plural: 'virtualmachineinstances', kind: 'VirtualMachineInstance', objects: [...(options.vmis ?? [])], missing: false, watchers: new Set() },
    {
      prefix: '/apis/k8s.cni.cncf.io/v1',
      plural: 'network-attachment-definitions',
      kind: 'NetworkAttachmentDefinition',
      objects: [...(options.nads ?? [])],
      missing: options.nadCrdMissing === true,
      watchers: new Set(),
    },
  ];
  const requests: string[] = [];
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method ?? ''} ${url.pathname}${url.searchParams.get('watch') === 'true' ? '?watch' : ''}`);
    for (const r of resources) {
      if (url.pathname === `${r.prefix}/${r.plural}`) {
        if (r.missing) return status(res, 404, 'the server could not find the requested resource');
        if (url.searchParams.get('watch') === 'true') {
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
          res.flushHeaders();
          r.watchers.add(res);
          res.on('close', () => r.watchers.delete(res));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ apiVersion: 'v1', kind: `${r.kind}List`, metadata: { resourceVersion: String(resourceVersion) }, items: r.objects }));
        return;
      }
      const m = new RegExp(`^${r.prefix}/namespaces/([^/]+)/${r.plural}/([^/]+)$`).exec(url.pathname);
      if (m !== null) {
        const found = r.missing ? undefined : r.objects.find((o) => o.metadata?.namespace === m[1] && o.metadata?.name === m[2]);
        const answer = () => {
          if (found === undefined) return status(res, 404, `${r.plural} "${m[2] ?? ''}" not found`);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(found));
        };
        if (api.getDelayMs > 0) setTimeout(answer, api.getDelayMs);
        else answer();
        return;
      }
    }
    status(res, 404, `no such path ${url.pathname}`);
  };

  const server: Server = createServer({ cert: options.tls.cert, key: options.tls.key }, handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const api: FakeApiServer = {
    url: `https://127.0.0.1:${port}`,
    requests,
    getDelayMs: 0,
    put(plural, object, notify = true) {
      const r = resources.find((x) => x.plural === plural) as Resource;
      const meta = { ...object.metadata, resourceVersion: String(++resourceVersion) };
      const obj = { ...object, metadata: meta };
      const i = r.objects.findIndex((o) => o.metadata?.namespace === meta.namespace && o.metadata?.name === meta.name);
      const type = i < 0 ? 'ADDED' : 'MODIFIED';
      if (i < 0) r.objects.push(obj);
      else r.objects[i] = obj;
      if (notify) for (const w of r.watchers) w.write(`${JSON.stringify({ type, object: obj })}\n`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return api;
}

/** A kubeconfig pointing at the fake server, trusting `ca`. */
export function kubeconfigFor(url: string, ca: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    `  cluster: {server: "${url}", certificate-authority-data: ${Buffer.from(ca).toString('base64')}}`,
    'users:',
    '- name: webhook',
    '  user: {token: test-token}',
    'contexts:',
    '- name: fake',
    '  context: {cluster: fake, user: webhook}',
    'current-context: fake',
    '',
  ].join('\n');
}
