// How the image and the chart start the process: the Dockerfile's last stage (ENTRYPOINT, CMD and
// ENV) and the webhook Deployment's container (args and env) as `helm template` renders it.
// /app is the package root in the image; here it is the repository.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './setup.js';

const run = promisify(execFile);
/** The helm binary scripts/fetch-tools.sh unpacks. */
export const HELM = join(ROOT, '.cache', 'tools', 'helm', 'helm');

/** The node command line and env of the image: ENTRYPOINT + CMD and ENV of the Dockerfile's last stage. */
export function imageCommand(dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')) {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const last = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  const stage = lines.slice(last);
  const json = (kw) => {
    const line = stage.findLast((l) => new RegExp(`^${kw}\\s+\\[`, 'i').test(l));
    if (line === undefined) throw new Error(`Dockerfile: no ${kw} [...] in the last stage`);
    return JSON.parse(line.replace(new RegExp(`^${kw}\\s+`, 'i'), ''));
  };
  const env = {};
  for (const l of stage) {
    const m = /^ENV\s+(.*)$/i.exec(l);
    if (m) for (const [, k, v] of m[1].matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[k] = v.replace(/^"|"$/g, '');
  }
  const [node, ...nodeArgs] = json('ENTRYPOINT');
  if (node !== 'node') throw new Error(`Dockerfile: ENTRYPOINT starts ${node}, not node`);
  const local = (a) => (a.startsWith('/app/') ? join(ROOT, a.slice(5)) : a);
  // `entrypoint` alone is what a Deployment's args follow; `args` adds the image's CMD.
  return { entrypoint: nodeArgs.map(local), args: [...nodeArgs, ...json('CMD')].map(local), env };
}

/**
 * The webhook container of the chart's Deployment, rendered with `values` (given with --set-json):
 * its args (after the image's ENTRYPOINT) and its env as name -> value. Needs the helm binary.
 */
export async function chartWebhookContainer(values = {}) {
  if (!existsSync(HELM)) throw new Error(`helm not found at ${HELM}: run scripts/fetch-tools.sh first`);
  const set = Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);
  const { stdout } = await run(HELM, ['template', 'bench', join(ROOT, 'charts', 'kubevirt-vhostuser'), '--namespace', 'kubevirt-vhostuser', ...set], {
    maxBuffer: 64 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? '', HOME: join(ROOT, '.cache', 'helm-home') },
  });
  const deployment = parseAllDocuments(stdout)
    .map((d) => d.toJS())
    .find((o) => o?.kind === 'Deployment');
  const container = deployment?.spec?.template?.spec?.containers?.find((c) => c.name === 'webhook');
  if (container === undefined) throw new Error('helm template: no Deployment with a `webhook` container');
  const env = Object.fromEntries((container.env ?? []).filter((e) => typeof e.value === 'string').map((e) => [e.name, e.value]));
  return { args: container.args ?? [], env, resources: container.resources ?? {} };
}
