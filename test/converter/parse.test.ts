import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConverterError } from '../../converter/src/errors.js';
import { quoteGoString, unquoteGoString } from '../../converter/src/podnetinfo/go-quote.js';
import { formatDownwardApiFile, parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';

const repo = join(import.meta.dirname, '../..');
const samples = join(repo, 'fixtures/podnetinfo');

function syntaxError(text: string): ConverterError {
  try {
    parseDownwardApiFile(text, '/etc/podnetinfo/annotations');
  } catch (err) {
    if (err instanceof ConverterError) return err;
    throw err;
  }
  throw new Error('expected a syntax error');
}

describe('quoteGoString', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    ['\x07\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['\x00\x1b\x7f', '"\\x00\\x1b\\x7f"'],
    ['é ü 日本', '"é ü 日本"'],
    ['\u00a0\u200b\u2028', '"\\u00a0\\u200b\\u2028"'],
    ['\u{1F600}', '"\u{1F600}"'],
    ['\u{E0001}', '"\\U000e0001"'],
    ['a=b', '"a=b"'],
  ])('quotes %j like Go %%q', (input, expected) => {
    expect(quoteGoString(input)).toBe(expected);
  });
});

describe('unquoteGoString', () => {
  it.each([
    ['"\\x41\\101\\u00e9\\U0001F600"', 'AAé\u{1F600}'],
    ['"\\xc3\\xa9"', 'é'],
    ['"\\303\\251"', 'é'],
    ['"tab\there"', 'tab\there'],
    ['""', ''],
  ])('reads %s', (input, expected) => {
    expect(unquoteGoString(input).value).toBe(expected);
  });

  it.each([
    ['"\\q"', /unknown escape \\q/],
    ["\"\\'\"", /unknown escape/],
    ['"\\x4"', /needs 2 hex digits/],
    ['"\\ud800"', /not a valid Unicode code point/],
    ['"\\U00110000"', /not a valid Unicode code point/],
    ['"\\400"', /above \\377/],
    ['"\\18"', /octal escape needs 3 digits/],
    ['"open', /unterminated/],
    ['"ends with \\', /unterminated|backslash at end/],
  ])('rejects %s', (input, message) => {
    expect(() => unquoteGoString(input)).toThrow(message);
  });
});

describe('parseDownwardApiFile', () => {
  it('splits at the first "=" and keeps "=" inside values', () => {
    const map = parseDownwardApiFile('a="x=y=z"\nb.io/c="=="');
    expect([...map]).toEqual([
      ['a', 'x=y=z'],
      ['b.io/c', '=='],
    ]);
  });

  it('accepts an empty file, and one trailing newline', () => {
    expect(parseDownwardApiFile('').size).toBe(0);
    expect(parseDownwardApiFile('\n').size).toBe(0);
    expect([...parseDownwardApiFile('k="v"\n')]).toEqual([['k', 'v']]);
  });

  it('keeps spaces, backslashes and JSON escapes of the value', () => {
    const line = `k=${quoteGoString('[{"name": "a b", "path": "C:\\\\x"}]')}`;
    expect(parseDownwardApiFile(line).get('k')).toBe('[{"name": "a b", "path": "C:\\\\x"}]');
  });

  it('pins its error messages, naming file and line', () => {
    const cases = {
      emptyLine: 'a="1"\n\nb="2"',
      twoTrailingNewlines: 'a="1"\n\n',
      noEquals: 'a="1"\nnovalue',
      unquoted: 'a=1',
      trailingText: 'a="1" # comment',
      badEscape: 'a="1"\nb="\\z"',
      emptyKey: '="v"',
      duplicate: 'a="1"\na="2"',
      crlf: 'a="1"\r\nb="2"',
    };
    const messages = Object.fromEntries(Object.entries(cases).map(([name, text]) => [name, syntaxError(text).message.replace(/ \(hint:.*\)$/, '')]));
    expect(messages).toMatchInlineSnapshot(`
      {
        "badEscape": "/etc/podnetinfo/annotations:2: value of b: unknown escape \\z at column 4",
        "crlf": "/etc/podnetinfo/annotations:1: value of a: unexpected text after the closing quote at column 6",
        "duplicate": "/etc/podnetinfo/annotations:2: duplicate key a",
        "emptyKey": "/etc/podnetinfo/annotations:1: invalid key """,
        "emptyLine": "/etc/podnetinfo/annotations:2: empty line",
        "noEquals": "/etc/podnetinfo/annotations:2: no "=" between key and value",
        "trailingText": "/etc/podnetinfo/annotations:1: value of a: unexpected text after the closing quote at column 6",
        "twoTrailingNewlines": "/etc/podnetinfo/annotations:2: empty line",
        "unquoted": "/etc/podnetinfo/annotations:1: value of a: expected an opening double quote at column 3",
      }
    `);
  });

  it('reports the file and the 1-based line as data', () => {
    const err = syntaxError('a="1"\nb="2"\nc=3');
    expect(err.code).toBe('E_PODINFO_SYNTAX');
    expect(err.details).toMatchObject({ file: '/etc/podnetinfo/annotations', line: 3 });
  });

  it('reads every public downward-API sample, the one without a final newline included', () => {
    const files = [
      ...readdirSync(join(samples, 'app-netutil')).map((f) => join(samples, 'app-netutil', f)),
      join(samples, 'juniper-pr218/annotations'),
    ];
    expect(files.length).toBe(6);
    for (const file of files) {
      const map = parseDownwardApiFile(readFileSync(file, 'utf8'), file);
      expect(map.get('kubernetes.io/config.source'), file).toBe('api');
    }
  });

  it('decodes a real multi-line JSON value exactly as the public decoded copy has it', () => {
    const text = readFileSync(join(samples, 'app-netutil/annotations_userspace_no_deviceinfo'), 'utf8');
    const decoded = readFileSync(join(samples, 'decoded/app-netutil_userspace_configuration-data.decoded.json'), 'utf8');
    expect(parseDownwardApiFile(text).get('userspace/configuration-data')).toBe(decoded.replace(/\n$/, ''));
  });
});

describe('formatDownwardApiFile', () => {
  it('sorts keys by UTF-8 bytes and writes no final newline', () => {
    expect(formatDownwardApiFile({ 'b.io/x': '2', 'a.io/y': 'say "hi"\n' })).toBe('a.io/y="say \\"hi\\"\\n"\nb.io/x="2"');
  });

  it('writes the public samples back byte for byte', () => {
    for (const name of ['annotations_deviceinfo_pci', 'annotations_no_networkstatus']) {
      const text = readFileSync(join(samples, 'app-netutil', name), 'utf8').replace(/\n$/, '');
      expect(formatDownwardApiFile(parseDownwardApiFile(text))).toBe(text);
    }
  });
});
