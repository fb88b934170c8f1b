// `mutate`: the webhook's decision for a pod file, offline. Reads the pod (and optionally its
// VMI) from files, builds the AdmissionRequest the API server would send, and reports the patch.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { decideAdmission } from './admission/decide.js';
import { unwrapVirtualMachine } from '../../converter/src/shared.js';
import { vmiControllerRef } from './admission/launcher.js';
import { parsePod, type AdmissionRequest } from './admission/review.js';
import { MUTATION_OPTIONS, parseFlags, toMutationConfig, validateFlags, type OptionSpec } from './config.js';
import { WebhookError } from './errors.js';
import { offlineLookups, staticVmiSource, type KubeObject } from './k8s/sources.js';
import { applyAddOps } from './mutate/apply.js';
import { createPlanner } from './mutate/plan.js';
import { z } from 'zod';

export const MUTATE_OPTIONS = {
  pod: { type: 'string', value: 'file', help: 'the pod as KubeVirt would create it, YAML or JSON ("-" for stdin)' },
  vmi: { type: 'string', value: 'file', help: 'its VirtualMachineInstance (or VirtualMachine), for the VMI evidence' },
  user: { type: 'string', value: 'name', help: 'request.userInfo.username (default: the first --controller-identity)' },
  namespace: { type: 'string', value: 'ns', default: 'default', help: 'request.namespace when the pod has none' },
  apply: { type: 'boolean', help: 'print the patched pod (JSON) instead of the patch' },
} as const satisfies Record<string, OptionSpec>;

async function readObject(file: string, flag: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new WebhookError('E_INPUT', `--${flag} ${file}: ${(err as Error).message}`);
  }
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length !== 1) throw new WebhookError('E_INPUT', `--${flag} ${file}: expected exactly one YAML or JSON document`);
  const doc = docs[0];
  const first = doc?.errors[0];
  if (first !== undefined) throw new WebhookError('E_INPUT', `--${flag} ${file}: ${first.message.split('\n')[0] ?? ''}`);
  const value: unknown = doc?.toJS();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WebhookError('E_INPUT', `--${flag} ${file}: not an object`);
  return value as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A VirtualMachine stands in for its VMI, unwrapped as the converter unwraps it. */
function asVmi(obj: Record<string, unknown>, file: string): KubeObject {
  if (obj['kind'] === 'VirtualMachineInstance' || obj['kind'] === 'VirtualMachine') return unwrapVirtualMachine(obj) as KubeObject;
  throw new WebhookError('E_INPUT', `--vmi ${file}: kind ${JSON.stringify(obj['kind'])}; expected VirtualMachineInstance or VirtualMachine`);
}

export interface MutateResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export async function runMutate(argv: readonly string[]): Promise<MutateResult> {
  const values = parseFlags(argv, { ...MUTATION_OPTIONS, ...MUTATE_OPTIONS });
  const config = toMutationConfig(values);
  const flags = validateFlags({ pod: z.string('--pod FILE is required'), vmi: z.string().optional(), user: z.string().optional(), namespace: z.string(), apply: z.boolean() }, values);

  const podObject = await readObject(flags.pod, 'pod');
  if (podObject['kind'] !== undefined && podObject['kind'] !== 'Pod') {
    throw new WebhookError('E_INPUT', `--pod ${flags.pod}: kind ${JSON.stringify(podObject['kind'])}; expected Pod`);
  }
  const pod = parsePod(podObject, `--pod ${flags.pod}`);
  let lookups = offlineLookups();
  if (flags.vmi !== undefined) {
    const vmi = asVmi(await readObject(flags.vmi, 'vmi'), flags.vmi);
    const owner = vmiControllerRef(pod);
    if (owner !== undefined && vmi.metadata?.name !== owner.name) {
      throw new WebhookError('E_INPUT', `--vmi ${flags.vmi}: VMI "${String(vmi.metadata?.name)}" is not the pod's owner "${owner.name}"`);
    }
    lookups = { ...lookups, vmi: staticVmiSource([vmi]) };
  }
  const request: AdmissionRequest = {
    uid: 'mutate-cli',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace: pod.metadata?.namespace || flags.namespace,
    userInfo: { username: flags.user ?? config.controllerIdentities[0] },
    object: podObject,
  };
  const { decision } = await decideAdmission(request, {
    ...config,
    lookupTimeoutMs: 1000,
    lookups,
    planPatch: createPlanner(config),
  });
  if (decision.kind === 'deny') return { stdout: "", stderr: `error: ${decision.error.code}: denied: ${decision.error.message}\n`, code: 1 };
  const ops = decision.kind === 'patch' ? decision.ops : [];
  const notes = decision.kind === 'allow' ? (decision.warning !== undefined ? `warning: ${decision.warning}\n` : `note: no patch (${decision.reason})\n`) : '';
  const out = flags.apply ? applyAddOps(podObject, ops) : ops;
  return { stdout: `${JSON.stringify(out, null, 2)}\n`, stderr: notes, code: 0 };
}
