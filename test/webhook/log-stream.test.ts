import { describe, expect, it } from 'vitest';
import { createLineBuffer } from '../../webhook/src/log-stream.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sink() {
  const chunks: string[] = [];
  return { chunks, out: { write: (c: Uint8Array) => void chunks.push(Buffer.from(c).toString('utf8')) } };
}

describe('createLineBuffer', () => {
  it('writes the lines gathered within maxDelayMs as one chunk, in order', async () => {
    const { chunks, out } = sink();
    const buffer = createLineBuffer(out, { maxDelayMs: 5 });
    buffer.write('a\n');
    buffer.write('b\n');
    expect(chunks).toEqual([]);
    while (chunks.length === 0) await tick(5);
    buffer.write('c\n');
    while (chunks.length === 1) await tick(5);
    expect(chunks).toEqual(['a\nb\n', 'c\n']);
  });

  it('writes when full, passes an oversized line through whole, and writes on flush()', () => {
    const { chunks, out } = sink();
    const buffer = createLineBuffer(out, { maxBytes: 8, maxDelayMs: 60_000 });
    buffer.write('ab\n');
    buffer.write('cd\n');
    buffer.write('ef\n'); // does not fit: the first two go out first
    expect(chunks).toEqual(['ab\ncd\n']);
    buffer.write('0123456789\n');
    expect(chunks).toEqual(['ab\ncd\n', 'ef\n', '0123456789\n']);
    buffer.write('é\n');
    buffer.flush();
    buffer.flush();
    expect(chunks).toEqual(['ab\ncd\n', 'ef\n', '0123456789\n', 'é\n']);
  });
});
