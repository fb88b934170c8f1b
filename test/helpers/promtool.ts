// Runs the real promtool (Prometheus's rule checker and unit tester, unpacked from Debian's
// prometheus package into .cache/tools by scripts/fetch-tools.sh). I/O edge for the alert tests.
import { execFile } from 'node:child_process';
import { cachedTool } from './helm.js';

/** Absolute path of promtool. */
export function promtoolBinary(): string {
  return cachedTool('promtool/promtool');
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
