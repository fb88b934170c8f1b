// Pure. Go's `%q` string quoting (strconv.Quote) and its inverse (strconv.Unquote for
// double-quoted strings), which is how kubelet writes each value of a downward-API map file.
// https://pkg.go.dev/strconv#Quote

/** Why a quoted Go string could not be read; `offset` is 0-based within the quoted text. */
export class GoQuoteError extends Error {
  override name = 'GoQuoteError' as const;
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

// strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};
const UNESCAPES: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  '"': 0x22,
};

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/**
 * Quotes `s` exactly as Go's `fmt.Sprintf("%q", s)` does: printable runes raw, the usual short
 * escapes, `\xNN` for other ASCII controls, `\uNNNN`/`\UNNNNNNNN` for other runes.
 *
 * @example quoteGoString('a"b\n') // '"a\\"b\\n"'
 */
export function quoteGoString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) {
      out += short;
      continue;
    }
    const cp = ch.codePointAt(0) ?? 0;
    // A lone UTF-16 surrogate has no UTF-8 form; Node writes it as U+FFFD, and so do we.
    if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd';
    else if (PRINTABLE.test(ch)) out += ch;
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return `${out}"`;
}

/** Result of reading one quoted string from the start of `text`. */
export interface UnquoteResult {
  readonly value: string;
  /** Index just after the closing quote. */
  readonly end: number;
}

/**
 * Reads the Go double-quoted string that starts at `text[start]` (which must be `"`), accepting
 * every escape strconv.Unquote accepts, octal `\NNN` included. Bytes given by `\x`/octal escapes
 * are decoded as UTF-8 together with the raw text around them.
 */
export function unquoteGoString(text: string, start = 0): UnquoteResult {
  if (text[start] !== '"') throw new GoQuoteError('expected an opening double quote', start);
  const parts: Buffer[] = [];
  let runStart = start + 1;
  let i = runStart;
  const flush = (to: number): void => {
    if (to > runStart) parts.push(Buffer.from(text.slice(runStart, to), 'utf8'));
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      flush(i);
      return { value: Buffer.concat(parts).toString('utf8'), end: i + 1 };
    }
    if (c === '\n') throw new GoQuoteError('newline inside a quoted value', i);
    if (c !== '\\') {
      i++;
      continue;
    }
    flush(i);
    const { bytes, next } = readEscape(text, i);
    parts.push(bytes);
    i = next;
    runStart = i;
  }
  throw new GoQuoteError('unterminated quoted value (no closing double quote)', text.length);
}

function readEscape(text: string, at: number): { bytes: Buffer; next: number } {
  const kind = text[at + 1];
  if (kind === undefined) throw new GoQuoteError('backslash at end of value', at);
  const simple = UNESCAPES[kind];
  if (simple !== undefined) return { bytes: Buffer.from([simple]), next: at + 2 };
  const digits = (count: number, pattern: RegExp): number => {
    const s = text.slice(at + 2, at + 2 + count);
    if (s.length !== count || !pattern.test(s)) {
      throw new GoQuoteError(`escape \\${kind} needs ${count} ${pattern === HEX ? 'hex' : 'octal'} digits`, at);
    }
    return Number.parseInt(s, pattern === HEX ? 16 : 8);
  };
  switch (kind) {
    case 'x':
      return { bytes: Buffer.from([digits(2, HEX)]), next: at + 4 };
    case 'u':
    case 'U': {
      const width = kind === 'u' ? 4 : 8;
      const cp = digits(width, HEX);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        throw new GoQuoteError(`escape \\${kind}${hex(cp, width)} is not a valid Unicode code point`, at);
      }
      return { bytes: Buffer.from(String.fromCodePoint(cp), 'utf8'), next: at + 2 + width };
    }
    default: {
      if (kind >= '0' && kind <= '7') {
        const s = text.slice(at + 1, at + 4);
        if (!/^[0-7]{3}$/.test(s)) throw new GoQuoteError('octal escape needs 3 digits', at);
        const value = Number.parseInt(s, 8);
        if (value > 0xff) throw new GoQuoteError(`octal escape \\${s} is above \\377`, at);
        return { bytes: Buffer.from([value]), next: at + 4 };
      }
      throw new GoQuoteError(`unknown escape \\${kind}`, at);
    }
  }
}

const HEX = /^[0-9a-fA-F]+$/;
