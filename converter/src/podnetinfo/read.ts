// I/O edge. Reads the downward-API annotations file (`<dir>/annotations`, or a file path; or
// KubeVirt's raw-JSON `network-info` file) and, when asked, waits a bounded time for the entries
// the caller still misses: CNI-written annotations
// reach the file only after a later kubelet sync, which swaps the `..data` symlink atomically.

import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { NETWORK_INFO_FILE } from '../contract.js';
import { ConverterError } from '../errors.js';
import { ANNOTATION } from '../annotations/keys.js';
import { parseDownwardApiFile } from './parse.js';

/** Something the caller still needs from the annotations. */
export interface MissingEntry {
  /** Short name listed in the error details (a VMI interface name, or the file). */
  readonly what: string;
  /** Full sentence naming it and saying what is missing. */
  readonly message: string;
}

export interface WaitOptions {
  /** Give up after this long (0: read once). */
  readonly timeoutMs: number;
  /** Re-read at least this often, in case directory events are missed (network filesystems). */
  readonly pollMs: number;
  /** What is still missing from these annotations (empty: done). Throws for problems waiting cannot fix. */
  readonly missing: (annotations: ReadonlyMap<string, string>) => readonly MissingEntry[];
}

const ANNOTATIONS_FILE = 'annotations';
/** KubeVirt's own downward-API file (>= 1.3, `downwardAPI: device-info`): the annotation's raw JSON. */
const NETWORK_INFO_NAME = posix.basename(NETWORK_INFO_FILE);

/**
 * The file for a podinfo argument: a directory's `annotations` file, else its `network-info` file
 * (KubeVirt's `/etc/podinfo`), else the path itself.
 */
export async function locateAnnotationsFile(podinfo: string): Promise<string> {
  try {
    if (!(await stat(podinfo)).isDirectory()) return podinfo;
  } catch (err) {
    throw readError(podinfo, err);
  }
  const annotations = join(podinfo, ANNOTATIONS_FILE);
  const networkInfo = join(podinfo, NETWORK_INFO_NAME);
  const exists = (f: string) => stat(f).then(() => true, () => false);
  return !(await exists(annotations)) && (await exists(networkInfo)) ? networkInfo : annotations;
}

/**
 * Parses either kind of file the reader is given, told apart by its first character: a
 * `key="value"` annotations file never starts with `{`, KubeVirt's network-info file always does
 * (it holds one JSON object, the value of `kubevirt.io/network-info`).
 */
export function parsePodinfoText(text: string, file: string): Map<string, string> {
  if (text.trimStart().startsWith('{')) return new Map([[ANNOTATION.networkInfo, text]]);
  return parseDownwardApiFile(text, file);
}

/**
 * Reads and parses the annotations file once.
 *
 * @throws ConverterError E_PODINFO_READ (missing or unreadable) or E_PODINFO_SYNTAX.
 */
export async function readPodAnnotationsFile(podinfo: string): Promise<Map<string, string>> {
  const file = await locateAnnotationsFile(podinfo);
  const text = await readText(file);
  if (text === undefined) throw readError(file, 'no such file or directory');
  return parsePodinfoText(text, file);
}

/**
 * Re-reads the annotations until `missing` reports nothing, woken by changes in the file's
 * directory and by a poll timer, for at most `timeoutMs`.
 *
 * @throws ConverterError E_TIMEOUT listing what is still missing; E_PODINFO_* for unreadable files;
 *   whatever `missing` throws.
 */
export async function waitForPodAnnotations(podinfo: string, options: WaitOptions): Promise<Map<string, string>> {
  const file = await locateAnnotationsFile(podinfo);
  const deadline = Date.now() + options.timeoutMs;
  const wakeup = new Wakeup(dirname(file));
  try {
    for (;;) {
      wakeup.reset();
      const text = await readText(file);
      let missing: readonly MissingEntry[] = [{ what: file, message: `${file} does not exist yet` }];
      if (text !== undefined) {
        const annotations = parsePodinfoText(text, file);
        missing = options.missing(annotations);
        if (missing.length === 0) return annotations;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw timeoutError(file, options.timeoutMs, missing);
      await wakeup.next(Math.min(options.pollMs, remaining));
    }
  } finally {
    wakeup.close();
  }
}

/** Resolves on the next change in a directory, or after a timeout, whichever comes first. */
class Wakeup {
  private watcher: FSWatcher | undefined;
  private changed = false;
  private notify: (() => void) | undefined;

  constructor(dir: string) {
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.fire());
      // A watcher that fails later (directory removed) just leaves us polling.
      this.watcher.on('error', () => this.close());
    } catch {
      this.watcher = undefined;
    }
  }

  reset(): void {
    this.changed = false;
  }

  next(ms: number): Promise<void> {
    if (this.changed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.notify = undefined;
        resolve();
      }
      this.notify = done;
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private fire(): void {
    this.changed = true;
    this.notify?.();
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw readError(file, err);
  }
}

/** `err` is the failure of a file call, or a reason of our own. */
function readError(file: string, err: unknown): ConverterError {
  const code = typeof err === 'string' ? undefined : (err as NodeJS.ErrnoException).code;
  const reason = typeof err === 'string' ? err : code === 'ENOENT' ? 'no such file or directory' : err instanceof Error ? err.message : String(err);
  const hint = 'mount the pod annotations with a downwardAPI volume (metadata.annotations) and pass its directory';
  return new ConverterError('E_PODINFO_READ', `cannot read ${file}: ${reason}`, { file, hint }, typeof err === 'string' ? undefined : { cause: err });
}

function timeoutError(file: string, timeoutMs: number, missing: readonly MissingEntry[]): ConverterError {
  const list = missing.map((m) => m.message).join('; ');
  return new ConverterError('E_TIMEOUT', `${file}: still missing after ${timeoutMs / 1000}s: ${list}`, {
    file,
    missing: missing.map((m) => m.what),
    hint: 'the CNI writes these annotations during pod network setup; check Multus and the CNI logs, or wait longer',
  });
}
