// Every measured figure of the README's performance table is one docs/benchmarks.md reports, so
// a new run changes both or the test fails (the README summarises, benchmarks.md is the record).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './markdown.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const benchmarks = readFileSync(join(ROOT, 'docs/benchmarks.md'), 'utf8');

/** The rows of the table under `## Performance`: figure -> measured cell. */
function performanceRows(): [string, string][] {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Performance\n')) ?? '';
  return [...section.matchAll(/^\| ([^|]+) \| [^|]* \| ([^|]+) \|$/gm)].map((m) => [(m[1] ?? '').trim(), (m[2] ?? '').trim()] as [string, string]).filter(([f]) => f !== 'figure' && !f.startsWith('---'));
}

/** The numbers of a cell, as written. */
const numbers = (cell: string): string[] => [...cell.matchAll(/\d+(?:\.\d+)?/g)].map((m) => m[0]);

describe("the README's performance figures", () => {
  const rows = performanceRows();

  it('are found', () => {
    expect(rows.length).toBeGreaterThanOrEqual(6);
  });

  it.each(rows)('%s: %s, each number as docs/benchmarks.md reports it', (_figure, measured) => {
    const reported = new Set(numbers(benchmarks));
    expect(numbers(measured).filter((n) => !reported.has(n))).toEqual([]);
  });
});
