// Pure. The flags `convert` and `hook-sidecar` share, with one meaning each: the annotation wait,
// the binding names, the socket directories and the socket naming.
import { DEFAULT_BINDING_NAMES, DEFAULT_WAIT_SECONDS, socketDirProblem } from '../converter/src/contract.js';
import { UsageError, type OptionTable, type OptionValues } from './options.js';

export const CONVERTER_FLAGS = {
  wait: { type: 'string', value: 'seconds', default: String(DEFAULT_WAIT_SECONDS), help: 'wait up to this long for the CNI annotations (0: read once)' },
  'binding-name': {
    type: 'string',
    multiple: true,
    value: 'name',
    default: DEFAULT_BINDING_NAMES.join(','),
    help: 'binding plugin name treated as vhost-user, besides vhostuser: {} (repeatable; replaces the default)',
  },
  'allow-socket-dir': { type: 'string', multiple: true, value: 'dir', help: 'another directory socket paths may lie in, besides the shared dir (repeatable)' },
  'cni-socket-paths': { type: 'boolean', help: "QEMU uses the CNI's socket path as it is, not the stable vu-<hash> name that a live migration needs" },
} as const satisfies OptionTable;

export interface ConverterFlags {
  readonly waitMs: number;
  readonly bindingNames: string[];
  readonly allowedSocketDirs: string[];
  readonly stableSocketPaths: boolean;
}

/**
 * The shared flags' values, checked: `--wait` a number of seconds from 0 to `maxWaitSeconds`,
 * each `--allow-socket-dir` by the contract's rule, no empty binding name.
 *
 * @throws UsageError naming the flag and the value.
 */
export function converterFlags(values: OptionValues, maxWaitSeconds = Number.POSITIVE_INFINITY): ConverterFlags {
  const waitMs = waitFlag(values, maxWaitSeconds);
  const bindingNames = values['binding-name'] as string[];
  if (bindingNames.some((n) => n.trim() === '')) throw new UsageError('--binding-name must not be empty');
  const allowedSocketDirs = allowSocketDirFlag(values);
  return { waitMs, bindingNames: [...new Set(bindingNames)], allowedSocketDirs, stableSocketPaths: values['cni-socket-paths'] !== true };
}

/**
 * `--wait`, checked: a number of seconds from 0 to `maxWaitSeconds`, in milliseconds.
 *
 * @throws UsageError naming the flag and the value.
 */
export function waitFlag(values: OptionValues, maxWaitSeconds = Number.POSITIVE_INFINITY): number {
  const waitText = String(values['wait']);
  const wait = Number(waitText);
  if (waitText.trim() === '' || !Number.isFinite(wait) || wait < 0 || wait > maxWaitSeconds) {
    const range = Number.isFinite(maxWaitSeconds) ? `from 0 to ${maxWaitSeconds}` : '>= 0';
    throw new UsageError(`--wait ${JSON.stringify(waitText)}: expected a number of seconds ${range}`);
  }
  return Math.round(wait * 1000);
}

/**
 * The `--allow-socket-dir` values, each checked by the contract's rule (also for commands that
 * take only this one of the shared flags, such as `interfaces`).
 *
 * @throws UsageError naming the flag and the value.
 */
export function allowSocketDirFlag(values: OptionValues): string[] {
  const allowedSocketDirs = (values['allow-socket-dir'] as string[] | undefined) ?? [];
  for (const dir of allowedSocketDirs) {
    const problem = socketDirProblem(dir);
    if (problem !== undefined) throw new UsageError(`--allow-socket-dir ${JSON.stringify(dir)} ${problem}`);
  }
  return allowedSocketDirs;
}
