// The fenced blocks of the README and docs/*.md, with the marker comment that may precede each,
// and a small shell word splitter for the commands in them. Used by the docs tests.
//
// Markers (an HTML comment on the line before the fence; invisible when rendered):
//   <!-- doc-test: cluster -->            needs a cluster: parsed and its flags checked, not run
//   <!-- doc-test: not-run <reason> -->   installs, builds or runs for minutes: parsed, not run
//   <!-- doc-test: part-of <file> -->     a YAML block that must be a part of that repository file
// Every other sh/bash block is run. Usage synopses go in `text` blocks: their flags are checked.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageRoot } from '../../cli/package.js';

export const ROOT = findPackageRoot();

export type MarkerKind = 'cluster' | 'not-run' | 'part-of';

export interface Block {
  /** `README.md` or `docs/<name>.md`. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly body: string;
  readonly marker?: { readonly kind: string; readonly arg: string };
}

/** The Markdown files whose blocks are tested: the README and every docs/*.md, as they are now. */
export function markdownFiles(): string[] {
  return ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

const MARKER = /^<!--\s*doc-test:\s*(\S+)\s*(.*?)\s*-->$/;

export function blocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+)\s*([\w-]*)\s*$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const [, indent = '', fence = '```', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !(lines[j] ?? '').trim().startsWith(fence); j++) body.push((lines[j] ?? '').slice(indent.length));
    let k = i - 1;
    while (k >= 0 && (lines[k] ?? '').trim() === '') k--;
    const m = MARKER.exec((lines[k] ?? '').trim());
    out.push({ file, line: i + 1, lang, body: body.join('\n'), ...(m !== null ? { marker: { kind: m[1] ?? '', arg: m[2] ?? '' } } : {}) });
    i = j;
  }
  return out;
}

export const SHELL = new Set(['sh', 'bash', 'shell', 'console']);

/** Doc placeholders (`<namespace>`, `<file>.cpuprofile`) as words the shell can parse. */
export function fillPlaceholders(text: string): string {
  return text.replace(/<([a-z][\w .-]*)>/gi, (_m, name: string) => `PLACEHOLDER_${name.replace(/\W/g, '_')}`);
}

/**
 * The simple commands of a block as word lists: `\` continuations joined, comments dropped,
 * quotes honoured, split at `|`, `&&`, `||`, `;`, `&`, `$(`, `(` and `)`.
 */
export function commands(text: string): string[][] {
  const src = text.replace(/\\\n/g, ' ');
  const out: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) out.push(words);
    words = [];
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i] ?? '';
    if (c === "'" || c === '"') {
      const close = src.indexOf(c, i + 1);
      const end = close < 0 ? src.length : close;
      word += src.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '#' && !inWord) {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl - 1;
    } else if (c === '\n' || c === ';' || c === '|' || c === '&' || c === '(' || c === ')' || c === '`') {
      endCommand();
    } else if (c === '$' && src[i + 1] === '(') {
      endCommand();
      i++;
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return out;
}
