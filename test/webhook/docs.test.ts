// docs/webhook.md documents every flag and every error code the code has, each code with the
// answer the catalogue (webhook/src/errors.ts) gives it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTATION_OPTIONS, SERVER_OPTIONS } from '../../webhook/src/config.js';
import { ERROR_CATALOGUE, type ErrorAnswer } from '../../webhook/src/errors.js';
import { MUTATE_OPTIONS } from '../../webhook/src/mutate-cli.js';
import { REPO_ROOT } from './fixtures.js';

const doc = readFileSync(join(REPO_ROOT, 'docs/webhook.md'), 'utf8');

/** The rows of the "Error codes" table: code -> its Answer cell. */
function documentedCodes(): Map<string, string> {
  const section = doc.split(/^## /m).find((s) => s.startsWith('Error codes\n'));
  const rows = [...(section ?? '').matchAll(/^\| `(E_[A-Z_]+)` \| ([^|]+) \|/gm)];
  return new Map(rows.map((m) => [m[1] as string, (m[2] as string).trim()]));
}

const ANSWER_TEXT: Record<ErrorAnswer['kind'], (status: number) => string> = {
  http: (s) => `HTTP ${s}`,
  denial: (s) => `allowed:false, ${s}`,
  exit: (s) => `exit ${s}`,
};

describe('docs/webhook.md', () => {
  it.each([...Object.keys(SERVER_OPTIONS), ...Object.keys(MUTATION_OPTIONS), ...Object.keys(MUTATE_OPTIONS)])('documents --%s', (flag) => {
    expect(doc).toContain(`--${flag}`);
  });

  it.each(Object.entries(ERROR_CATALOGUE))('has a row for %s with its answer', (code, row) => {
    expect(documentedCodes().get(code)).toMatch(new RegExp(`^${ANSWER_TEXT[row.answer.kind](row.answer.status)}\\b`));
  });

  it('documents no code the catalogue lacks', () => {
    expect([...documentedCodes().keys()].sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
  });
});
