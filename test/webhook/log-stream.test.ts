import { describe, expect, it } from 'vitest';
import { createLineBuffer } from '../../webhook/src/log-stream.js';

describe('createLineBuffer', () => {
  it('writes the lines of one event-loop turn in one chunk, in order', async () => {
    const chunks: string[] = [];
    const buffer = createLineBuffer({ write: (c: string) => chunks.push(c) });
    buffer.write('a\n');
    buffer.write('b\n');
    expect(chunks).toEqual([]);
    await new Promise((r) => setImmediate(r));
    buffer.write('c\n');
    await new Promise((r) => setImmediate(r));
    expect(chunks).toEqual(['a\nb\n', 'c\n']);
  });

  it('writes at once past the size limit, and on flush()', () => {
    const chunks: string[] = [];
    const buffer = createLineBuffer({ write: (c: string) => chunks.push(c) }, 4);
    buffer.write('ab\n');
    buffer.write('cd\n');
    expect(chunks).toEqual(['ab\ncd\n']);
    buffer.write('e\n');
    buffer.flush();
    buffer.flush();
    expect(chunks).toEqual(['ab\ncd\n', 'e\n']);
  });
});
