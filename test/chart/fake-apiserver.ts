// A stand-in for the Kubernetes API server, for `helm template --dry-run=server` only: no real API
// server can run on this machine, and the chart's `lookup` of its TLS Secret can only be exercised
// against one. It answers discovery for the kinds the chart renders, GET of one Secret, and 404
// for everything else. Binds 127.0.0.1 on a free port; close() stops it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { K8sObject } from '../helpers/helm.js';

// group/version -> [resource, kind, namespaced]
const served: Record<string, [string, string, boolean][]> = {
  v1: [['secrets', 'Secret', true], ['services', 'Service', true], ['serviceaccounts', 'ServiceAccount', true]],
  'apps/v1': [['deployments', 'Deployment', true]],
  'policy/v1': [['poddisruptionbudgets', 'PodDisruptionBudget', true]],
  'networking.k8s.io/v1': [['networkpolicies', 'NetworkPolicy', true]],
  'rbac.authorization.k8s.io/v1': [['clusterroles', 'ClusterRole', false], ['clusterrolebindings', 'ClusterRoleBinding', false]],
  'admissionregistration.k8s.io/v1': [['mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false]],
};

function resourceList(groupVersion: string) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: (served[groupVersion] ?? []).map(([name, kind, namespaced]) => ({
      name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ['get', 'list', 'create', 'update'],
    })),
  };
}

function groupList() {
  const groups = Object.keys(served).filter((gv) => gv.includes('/')).map((gv) => {
    const [name, version] = gv.split('/') as [string, string];
    const v = { groupVersion: gv, version };
    return { name, versions: [v], preferredVersion: v };
  });
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export interface FakeApiServer {
  /** Path of a kubeconfig pointing at the server. */
  readonly kubeconfig: string;
  /** Paths of the GET requests seen, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Serves `secret` (when given) at its namespace/name; everything else that is not discovery is 404. */
export async function startFakeApiServer(secret?: K8sObject): Promise<FakeApiServer> {
  const requests: string[] = [];
  const secretPath = secret && `/api/v1/namespaces/${secret.metadata.namespace}/secrets/${secret.metadata.name}`;
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0] ?? '';
    requests.push(url);
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const apis = /^\/apis\/([^/]+\/[^/]+)$/.exec(url);
    if (url === '/version') return send(200, { major: '1', minor: '33', gitVersion: 'v1.33.0', platform: 'linux/amd64' });
    if (url === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (url === '/apis') return send(200, groupList());
    if (url === '/api/v1') return send(200, resourceList('v1'));
    if (apis?.[1] && served[apis[1]]) return send(200, resourceList(apis[1]));
    if (req.method === 'GET' && url === secretPath) return send(200, secret);
    send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${url} not found` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-apiserver-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}"}}]`,
    'users: [{name: fake, user: {}}]',
    'contexts: [{name: fake, context: {cluster: fake, user: fake}}]',
    'current-context: fake',
    '',
  ].join('\n'));
  return {
    kubeconfig,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
