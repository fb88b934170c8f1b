// The streaming list reader (k8s/list-stream.ts) against JSON.parse: whatever the chunking, the
// white space and the escapes, it keeps exactly the fields its KeepSpec names, reports fields
// over their byte limit, and names the byte offset of malformed input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ListStreamError, readListStream, type KeepSpec, type StreamedItem } from '../../webhook/src/k8s/list-stream.js';

const KEEP: KeepSpec = { metadata: { name: 1e9, uid: 1e9 }, spec: { a: 1e9, deep: { b: 1e9 } } };

/** Yields `text` in chunks cut at `cuts` (byte offsets). */
async function* chunked(text: string, cuts: readonly number[] = []): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text, 'utf8');
  let from = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((x, y) => x - y)) {
    yield bytes.subarray(from, cut);
    from = cut;
  }
  yield bytes.subarray(from);
}

async function read(text: string, keep: KeepSpec = KEEP, cuts: readonly number[] = []) {
  const items: StreamedItem[] = [];
  const meta = await readListStream(chunked(text, cuts), keep, (i) => void items.push(i));
  return { meta, items };
}

/** What the KeepSpec keeps of a parsed object (no limits hit), as reference. */
function project(value: unknown, keep: KeepSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    const spec = Object.hasOwn(keep, k) ? keep[k] : undefined;
    if (spec === undefined) continue;
    if (typeof spec === 'number') out[k] = v;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) out[k] = project(v, spec);
  }
  return out;
}

describe('readListStream', () => {
  it('keeps the named fields of each item and reads the list metadata after the items', async () => {
    const list = {
      apiVersion: 'kubevirt.io/v1',
      items: [
        { metadata: { name: 'a', uid: '1', annotations: { big: 'x'.repeat(1000) } }, spec: { a: [1, { q: '"' }], deep: { b: null, c: 1 }, volumes: [{ userData: 'secret' }] }, status: {} },
        { metadata: { name: 'b' }, spec: 'not an object' },
        42,
        {},
      ],
      kind: 'VirtualMachineInstanceList',
      metadata: { resourceVersion: '123', continue: 'next-page' },
    };
    const { meta, items } = await read(JSON.stringify(list, null, 1));
    expect(meta).toEqual({ resourceVersion: '123', continue: 'next-page' });
    expect(items).toEqual([
      { object: { metadata: { name: 'a', uid: '1' }, spec: { a: [1, { q: '"' }], deep: { b: null } } }, omitted: [] },
      { object: { metadata: { name: 'b' } }, omitted: [] },
      { object: {}, omitted: [] },
    ]);
  });

  it('reports a kept field over its byte limit as omitted, and keeps the rest', async () => {
    const keep: KeepSpec = { metadata: { name: 16 }, spec: { config: 10 } };
    const text = JSON.stringify({ items: [{ metadata: { name: 'short' }, spec: { config: 'x'.repeat(100) } }, { metadata: { name: 'n'.repeat(40) }, spec: { config: 'ok' } }] });
    // Cut every 7 bytes, so the long value spans chunks and must be given up part-way.
    const cuts = Array.from({ length: text.length }, (_, i) => i * 7);
    expect((await read(text, keep, cuts)).items).toEqual([
      { object: { metadata: { name: 'short' }, spec: {} }, omitted: ['spec.config'] },
      { object: { metadata: {}, spec: { config: 'ok' } }, omitted: ['metadata.name'] },
    ]);
  });

  it('finds the end of strings whose escapes straddle a chunk boundary', async () => {
    const tricky = ['\\', '\\\\', '\\"', '"\\', 'a\\\\\\"b', '\\u0022', '\u00e9\u{1F600}'];
    const text = JSON.stringify({ items: tricky.map((t) => ({ metadata: { name: t }, skip: t, spec: { a: t } })), metadata: { resourceVersion: '7' } });
    for (let cut = 1; cut < Buffer.byteLength(text); cut++) {
      const { meta, items } = await read(text, KEEP, [cut, cut + 1, cut + 3]);
      expect(meta.resourceVersion).toBe('7');
      expect(items.map((i) => i.object)).toEqual(tricky.map((t) => ({ metadata: { name: t }, spec: { a: t } })));
    }
  });

  it('agrees with JSON.parse on generated lists, whatever the chunking and white space', async () => {
    const item = fc.record({
      metadata: fc.record({ name: fc.string(), uid: fc.string(), other: fc.jsonValue() }, { requiredKeys: [] }),
      spec: fc.oneof(fc.record({ a: fc.jsonValue(), deep: fc.oneof(fc.record({ b: fc.jsonValue(), c: fc.jsonValue() }), fc.jsonValue()), z: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue()),
      status: fc.jsonValue(),
    }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 6 }), fc.constantFrom(0, 1, '\t'), fc.array(fc.nat({ max: 4000 }), { maxLength: 30 }), async (items, space, cuts) => {
        const text = JSON.stringify({ kind: 'List', items, metadata: { resourceVersion: 'rv' } }, null, space);
        const got = await read(text, KEEP, cuts);
        const parsed = JSON.parse(text) as { items: unknown[] };
        expect(got.items.map((i) => i.object)).toEqual(parsed.items.map((i) => project(i, KEEP)));
        expect(got.meta).toEqual({ resourceVersion: 'rv', continue: '' });
      }),
      { numRuns: 300 },
    );
  });

  it('never looks up keys like __proto__ in the KeepSpec prototype', async () => {
    const { items } = await read('{"items":[{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"metadata":{"name":"a"}}]}');
    expect(items).toEqual([{ object: { metadata: { name: 'a' } }, omitted: [] }]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('reads an empty list, a list without items and a list with null items', async () => {
    for (const text of ['{}', '{"items":[]}', '{"items":null,"metadata":{}}', ' { "metadata" : { "resourceVersion" : "1" } } ']) {
      expect((await read(text)).items).toEqual([]);
    }
  });

  it.each([
    ['a truncated body', '{"items":[{"metadata":{"name":"a"', 'list response at byte 33: the body ended inside the JSON'],
    ['a truncated string', '{"items":[{"skip":"abc', 'list response at byte 22: the body ended inside a value'],
    ['a list that is not an object', '[1,2]', "list response at byte 0: expected '{' opening the list"],
    ['a missing comma', '{"items":[{} {}]}', "list response at byte 13: expected ',' or ']' in items"],
    ['a stray bracket', '{"items":[{"a":]}]}', 'list response at byte 15: unexpected closing bracket'],
  ])('names the byte offset of %s', async (_what, text, message) => {
    const err = await read(text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListStreamError);
    expect((err as Error).message).toBe(message);
  });

  it('steps over a 20 MB value in small chunks without keeping it', async () => {
    const huge = 'x'.repeat(20 * 1024 * 1024);
    const text = `{"items":[{"metadata":{"name":"a"},"spec":{"volumes":"${huge}","a":1}}]}`;
    const cuts = Array.from({ length: 400 }, (_, i) => i * 65536);
    expect((await read(text, KEEP, cuts)).items).toEqual([{ object: { metadata: { name: 'a' }, spec: { a: 1 } }, omitted: [] }]);
  });
});
