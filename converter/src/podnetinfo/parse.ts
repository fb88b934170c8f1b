// Pure. Reads and writes the downward-API map file kubelet writes for `metadata.annotations`
// (and `metadata.labels`): one `key="value"` line per entry, keys sorted, values quoted like Go's
// `%q`, no newline after the last line (kubernetes pkg/fieldpath FormatMap). Never reads files.

import { ConverterError } from '../errors.js';
import { GoQuoteError, quoteGoString, unquoteGoString } from './go-quote.js';

/**
 * Parses the text of a downward-API map file. Each line is split at its FIRST `=` (values often
 * contain `=`), then the value is unquoted with Go's rules. One trailing newline is accepted.
 *
 * @param file name used in error messages (the path the text came from).
 * @throws ConverterError E_PODINFO_SYNTAX naming the file and the 1-based line.
 * @example parseDownwardApiFile('a="1"\nb="x=y"').get('b') // 'x=y'
 */
export function parseDownwardApiFile(text: string, file = 'annotations'): Map<string, string> {
  const entries = new Map<string, string>();
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') return entries;
  const lines = body.split('\n');
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const fail = (reason: string): never => {
      throw new ConverterError('E_PODINFO_SYNTAX', `${file}:${lineNo}: ${reason}`, {
        file,
        line: lineNo,
        hint: 'expected key="Go-quoted value" as kubelet writes it',
      });
    };
    if (line === '') fail('empty line');
    const eq = line.indexOf('=');
    if (eq < 0) fail('no "=" between key and value');
    const key = line.slice(0, eq);
    if (key === '' || /[\s"]/.test(key)) fail(`invalid key ${JSON.stringify(key)}`);
    let unquoted: { value: string; end: number } = { value: '', end: 0 };
    try {
      unquoted = unquoteGoString(line, eq + 1);
    } catch (err) {
      if (!(err instanceof GoQuoteError)) throw err;
      fail(`value of ${key}: ${err.message} at column ${err.offset + 1}`);
    }
    if (unquoted.end !== line.length) fail(`value of ${key}: unexpected text after the closing quote at column ${unquoted.end + 1}`);
    if (entries.has(key)) fail(`duplicate key ${key}`);
    entries.set(key, unquoted.value);
  });
  return entries;
}

/**
 * Writes a map the way kubelet does: keys sorted by their UTF-8 bytes (Go's sort.Strings),
 * `key=%q` per line, lines joined by `\n`, no trailing newline. Used by tests and fixtures.
 *
 * @example formatDownwardApiFile({ b: 'x', a: 'say "hi"' }) // 'a="say \\"hi\\""\nb="x"'
 */
export function formatDownwardApiFile(entries: ReadonlyMap<string, string> | Readonly<Record<string, string>>): string {
  const pairs = entries instanceof Map ? [...entries] : Object.entries(entries);
  pairs.sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return pairs.map(([key, value]) => `${key}=${quoteGoString(value)}`).join('\n');
}
