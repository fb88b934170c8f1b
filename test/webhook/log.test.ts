// The webhook's log destination (log.ts) on a real file: flushLog() leaves no line behind,
// whatever the destination was doing when it was called.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogDestination, flushLog } from '../../webhook/src/log.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'webhook-log-'));
  dirs.push(dir);
  return join(dir, 'log');
}

describe('flushLog', () => {
  it('writes every line written before it, for any count from 1 to 120 lines at once', async () => {
    // Some counts leave a remainder below the destination's minLength behind the write in
    // flight, which the destination's own flush() leaves gathered.
    for (let count = 1; count <= 120; count++) {
      const file = await tempFile();
      const dest = createLogDestination(file);
      const lines = Array.from({ length: count }, (_, i) => `${JSON.stringify({ n: i, pad: 'x'.repeat(280) })}\n`);
      for (const line of lines) dest.write(line);
      await flushLog(dest);
      expect(await readFile(file, 'utf8'), `${count} lines`).toBe(lines.join(''));
    }
  });

  it('resolves at once for a sink that cannot flush', async () => {
    const seen: string[] = [];
    await flushLog({ write: (l) => void seen.push(l) });
    expect(seen).toEqual([]);
  });
});
