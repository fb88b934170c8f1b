// Pure (bytes in, objects out). Reads a Kubernetes list response as it streams in and keeps, of
// each item, only the fields a KeepSpec names, so a list never sits in memory whole: the generated
// client reads the body into one string and parses all of it, and 10 000 VMIs of 1 MB would be
// 10 GB. Skipped values are stepped over byte by byte (strings with indexOf), never decoded, and
// only the bytes of the value being kept, if any, stay buffered.

/**
 * The fields to keep of an object: a number keeps that key's value when its JSON text is at most
 * that many bytes (else the field is reported as omitted), a nested spec keeps only the listed
 * keys of an object value. Every other key is skipped.
 */
export type KeepSpec = { readonly [key: string]: KeepSpec | number };

export interface StreamedItem {
  readonly object: Record<string, unknown>;
  /** Dotted paths of kept fields left out because their value was over its byte limit. */
  readonly omitted: readonly string[];
}

/** The list's own metadata: where to resume a watch, and the token for the next page. */
export interface ListMeta {
  readonly resourceVersion: string;
  readonly continue: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
/** Object keys longer than this are no key any KeepSpec names: skipped unread. */
const MAX_KEY_BYTES = 1024;

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
// Bytes a JSON number or literal (true, false, null) may contain.
const isScalar = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x45;

export class ListStreamError extends Error {
  override name = 'ListStreamError';
}

/** A cursor over the chunks, holding only the bytes from the cursor (or a kept value's start) on. */
class Reader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Where the value being kept starts, or -1. */
  private keepFrom = -1;
  private keepMax = 0;
  private keepTooLarge = false;
  private consumed = 0;
  private ended = false;
  private readonly chunks: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** Byte offset in the whole response, for error messages. */
  private get offset(): number {
    return this.consumed + this.pos;
  }

  fail(what: string): never {
    throw new ListStreamError(`list response at byte ${this.offset}: ${what}`);
  }

  /** Appends the next chunk, dropping what nothing needs any more; false at the end of the body. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.chunks.next();
    if (next.done === true) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    let from = this.pos;
    if (this.keepFrom >= 0) {
      // Over its limit already: stop holding it; the field is reported as omitted.
      if (this.pos - this.keepFrom > this.keepMax) {
        this.keepTooLarge = true;
        this.keepFrom = -1;
      } else from = this.keepFrom;
    }
    const rest = this.buf.subarray(from);
    this.buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    this.consumed += from;
    this.pos -= from;
    if (this.keepFrom >= 0) this.keepFrom -= from;
    return true;
  }

  /** The next byte that is not white space, not consumed. */
  async peek(): Promise<number> {
    for (;;) {
      while (this.pos < this.buf.length) {
        const c = this.buf[this.pos] as number;
        if (!isSpace(c)) return c;
        this.pos++;
      }
      if (!(await this.more())) this.fail('the body ended inside the JSON');
    }
  }

  async expect(byte: number, what: string): Promise<void> {
    if ((await this.peek()) !== byte) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** Steps over one JSON value (not validated beyond its brackets and strings). */
  async skip(): Promise<void> {
    let depth = 0;
    let inString = false;
    // Backslashes just before the cursor inside a string, carried across chunks.
    let backslashes = 0;
    for (;;) {
      if (this.pos >= this.buf.length && !(await this.more())) this.fail('the body ended inside a value');
      const buf = this.buf;
      if (inString) {
        const q = buf.indexOf(QUOTE, this.pos);
        const end = q < 0 ? buf.length : q;
        let run = 0;
        while (end - 1 - run >= this.pos && buf[end - 1 - run] === BACKSLASH) run++;
        const total = end - run === this.pos ? backslashes + run : run;
        this.pos = q < 0 ? buf.length : q + 1;
        if (q < 0) {
          backslashes = total;
          continue;
        }
        backslashes = 0;
        if (total % 2 === 1) continue; // an escaped quote
        inString = false;
        if (depth === 0) return;
        continue;
      }
      const c = buf[this.pos] as number;
      if (c === QUOTE) {
        inString = true;
        this.pos++;
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        depth++;
        this.pos++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (depth === 0) this.fail('unexpected closing bracket');
        depth--;
        this.pos++;
        if (depth === 0) return;
      } else if (depth > 0 || isSpace(c)) {
        this.pos++;
      } else if (isScalar(c)) {
        await this.skipScalar();
        return;
      } else {
        this.fail(`unexpected byte 0x${c.toString(16)}`);
      }
    }
  }

  private async skipScalar(): Promise<void> {
    for (;;) {
      while (this.pos < this.buf.length && isScalar(this.buf[this.pos] as number)) this.pos++;
      if (this.pos < this.buf.length || !(await this.more())) return;
    }
  }

  /** The next value parsed, when its JSON text is at most `max` bytes; undefined (skipped) otherwise. */
  async take(max: number): Promise<{ value: unknown } | undefined> {
    await this.peek();
    this.keepFrom = this.pos;
    this.keepMax = max;
    this.keepTooLarge = false;
    await this.skip();
    const from = this.keepFrom;
    this.keepFrom = -1;
    if (this.keepTooLarge || from < 0 || this.pos - from > max) return undefined;
    const text = this.buf.toString('utf8', from, this.pos);
    try {
      return { value: JSON.parse(text) as unknown };
    } catch (err) {
      this.fail(`a kept value is not JSON: ${(err as Error).message}`);
    }
  }

  /** An object value, keeping what `keep` names. */
  async object(keep: KeepSpec, path: string, omitted: string[]): Promise<Record<string, unknown>> {
    await this.expect(OPEN_OBJECT, "'{'");
    const out: Record<string, unknown> = {};
    if ((await this.peek()) === CLOSE_OBJECT) {
      this.pos++;
      return out;
    }
    for (;;) {
      if ((await this.peek()) !== QUOTE) this.fail('expected an object key');
      const key = (await this.take(MAX_KEY_BYTES))?.value;
      await this.expect(COLON, "':' after an object key");
      // Own keys only: a key such as "__proto__" must not find Object.prototype in the spec.
      const spec = typeof key === 'string' && Object.hasOwn(keep, key) ? keep[key] : undefined;
      if (spec === undefined) await this.skip();
      else if (typeof spec === 'number') {
        const taken = await this.take(spec);
        if (taken === undefined) omitted.push(`${path}${key as string}`);
        else out[key as string] = taken.value;
      } else if ((await this.peek()) === OPEN_OBJECT) out[key as string] = await this.object(spec, `${path}${key as string}.`, omitted);
      else await this.skip(); // not an object where one is expected: nothing in it to keep
      const c = await this.peek();
      if (c !== CLOSE_OBJECT && c !== COMMA) this.fail("expected ',' or '}' in an object");
      this.pos++;
      if (c === CLOSE_OBJECT) return out;
    }
  }

  /** The `items` array: each object item kept through `keep` and handed to `onItem`. */
  async items(keep: KeepSpec, onItem: (item: StreamedItem) => void): Promise<void> {
    if ((await this.peek()) !== OPEN_ARRAY) return this.skip(); // null, say: no items
    this.pos++;
    if ((await this.peek()) === CLOSE_ARRAY) {
      this.pos++;
      return;
    }
    for (;;) {
      if ((await this.peek()) === OPEN_OBJECT) {
        const omitted: string[] = [];
        const object = await this.object(keep, '', omitted);
        onItem({ object, omitted });
      } else await this.skip();
      const c = await this.peek();
      if (c !== CLOSE_ARRAY && c !== COMMA) this.fail("expected ',' or ']' in items");
      this.pos++;
      if (c === CLOSE_ARRAY) return;
    }
  }

  /** Stops reading: cancels the rest of the body. */
  async close(): Promise<void> {
    await this.chunks.return?.();
  }
}

const LIST_META: KeepSpec = { resourceVersion: 1024, continue: 64 * 1024 };

/**
 * Reads a list response (`{"kind": …List, "metadata": {…}, "items": […]}`, keys in any order: the
 * API server writes `metadata` after `items`), calling `onItem` with what `keep` names of each
 * item, as it arrives. Throws ListStreamError naming the byte offset on malformed JSON.
 */
export async function readListStream(source: AsyncIterable<Uint8Array>, keep: KeepSpec, onItem: (item: StreamedItem) => void): Promise<ListMeta> {
  const r = new Reader(source);
  try {
    let meta: Record<string, unknown> = {};
    await r.expect(OPEN_OBJECT, "'{' opening the list");
    if ((await r.peek()) !== CLOSE_OBJECT) {
      for (;;) {
        if ((await r.peek()) !== QUOTE) r.fail('expected a key of the list object');
        const key = (await r.take(MAX_KEY_BYTES))?.value;
        await r.expect(COLON, "':' after a key of the list object");
        if (key === 'items') await r.items(keep, onItem);
        else if (key === 'metadata' && (await r.peek()) === OPEN_OBJECT) meta = await r.object(LIST_META, 'metadata.', []);
        else await r.skip();
        const c = await r.peek();
        if (c === CLOSE_OBJECT) break;
        if (c !== COMMA) r.fail("expected ',' or '}' in the list object");
        await r.expect(COMMA, "','");
      }
    }
    const rv = meta['resourceVersion'];
    const next = meta['continue'];
    return { resourceVersion: typeof rv === 'string' ? rv : '', continue: typeof next === 'string' ? next : '' };
  } finally {
    await r.close();
  }
}
