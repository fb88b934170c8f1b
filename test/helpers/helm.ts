// Runs the real helm binary (put in .cache/tools by scripts/fetch-tools.sh) on the chart and parses
// what it renders. I/O edge for the chart tests: spawns processes, reads nothing else.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'charts'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root (package.json + charts/) above ${from}`);
  }
}

export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
export const chartDir = path.join(repoRoot, 'charts', 'kubevirt-vhostuser');

/**
 * Absolute path of a tool scripts/fetch-tools.sh unpacks into .cache/tools (e.g. `helm/helm`);
 * throws a message saying how to get it when it is missing.
 */
export function cachedTool(relative: string): string {
  const bin = path.join(repoRoot, '.cache', 'tools', relative);
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`${path.basename(bin)} not found at ${bin}: run scripts/fetch-tools.sh (or scripts/setup.sh) first`);
  }
  return bin;
}

/** Absolute path of the helm binary. */
export function helmBinary(): string {
  return cachedTool('helm/helm');
}

export interface HelmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with the given arguments; never throws on a non-zero exit (negative tests read it). */
export function runHelm(args: readonly string[], env: Record<string, string> = {}): Promise<HelmRun> {
  const bin = helmBinary();
  return new Promise((resolve, reject) => {
    // HELM_* dirs point into a throw-away place so a developer's repositories and plugins stay out.
    const home = path.join(repoRoot, '.cache', 'helm-home');
    const childEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: home,
      HELM_CACHE_HOME: path.join(home, 'cache'),
      HELM_CONFIG_HOME: path.join(home, 'config'),
      HELM_DATA_HOME: path.join(home, 'data'),
      ...env,
    };
    execFile(bin, [...args], { env: childEnv, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** A rendered Kubernetes object; the chart tests index into the rest by hand. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** Values as JSON, passed with --set-json so that types survive (a string stays a string). */
  readonly values?: Readonly<Record<string, unknown>>;
  readonly extraArgs?: readonly string[];
  readonly env?: Record<string, string>;
}

export const RELEASE = 'vhu';
export const NAMESPACE = 'kubevirt-vhostuser';

export function templateArgs(opts: RenderOptions = {}): string[] {
  const args = ['template', opts.release ?? RELEASE, chartDir, '--namespace', opts.namespace ?? NAMESPACE];
  for (const [key, value] of Object.entries(opts.values ?? {})) args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  return [...args, ...(opts.extraArgs ?? [])];
}

/** `helm template` without throwing: for the renders that must fail. */
export function tryTemplate(opts: RenderOptions = {}): Promise<HelmRun> {
  return runHelm(templateArgs(opts), opts.env);
}

/** `helm template`, parsed into objects; throws with helm's stderr when it fails. */
export async function template(opts: RenderOptions = {}): Promise<K8sObject[]> {
  const run = await tryTemplate(opts);
  if (run.code !== 0) throw new Error(`helm template failed (exit ${run.code}): ${run.stderr.trim()}`);
  return parseManifests(run.stdout);
}

/**
 * Splits a multi-document manifest into objects. YAML 1.1, as the API server's parser reads it,
 * so that for instance a leading-zero number means what Kubernetes will take it to mean.
 */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message ?? ''}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value as K8sObject);
  }
  return objects;
}

/** The one object of this kind (and name, if given); throws naming what was there instead. */
export function findObject(objects: readonly K8sObject[], kind: string, name?: string): K8sObject {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) {
    const seen = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${hits.length} among: ${seen}`);
  }
  return hits[0] as K8sObject;
}
