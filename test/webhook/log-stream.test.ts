import { describe, expect, it } from 'vitest';
import { createLineBuffer } from '../../webhook/src/log-stream.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createLineBuffer', () => {
  it('writes the lines gathered within maxDelayMs as one chunk, in order', async () => {
    const chunks: string[] = [];
    const buffer = createLineBuffer({ write: (c: string) => chunks.push(c) }, { maxDelayMs: 5 });
    buffer.write('a\n');
    buffer.write('b\n');
    expect(chunks).toEqual([]);
    while (chunks.length === 0) await tick(5);
    buffer.write('c\n');
    while (chunks.length === 1) await tick(5);
    expect(chunks).toEqual(['a\nb\n', 'c\n']);
  });

  it('writes at once past maxChars, and on flush()', () => {
    const chunks: string[] = [];
    const buffer = createLineBuffer({ write: (c: string) => chunks.push(c) }, { maxChars: 4, maxDelayMs: 60_000 });
    buffer.write('ab\n');
    buffer.write('cd\n');
    expect(chunks).toEqual(['ab\ncd\n']);
    buffer.write('e\n');
    buffer.flush();
    buffer.flush();
    expect(chunks).toEqual(['ab\ncd\n', 'e\n']);
  });
});
