// Runs the real promtool (Prometheus's rule checker and unit tester, unpacked from Debian's
// prometheus package into .cache/tools by scripts/fetch-tools.sh). I/O edge for the alert tests.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helm.js';

/** Absolute path of promtool; throws a message saying how to get it when it is missing. */
export function promtoolBinary(): string {
  const bin = path.join(repoRoot, '.cache', 'tools', 'promtool', 'promtool');
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`promtool not found at ${bin}: run scripts/fetch-tools.sh (or scripts/setup.sh) first`);
  }
  return bin;
}

export interface PromtoolRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs promtool in `cwd`; never throws on a non-zero exit (the caller reads it). */
export function runPromtool(args: readonly string[], cwd: string): Promise<PromtoolRun> {
  const bin = promtoolBinary();
  return new Promise((resolve, reject) => {
    execFile(bin, [...args], { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}
