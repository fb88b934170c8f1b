// docs/webhook.md documents every flag and every error code the code has.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MUTATION_OPTIONS, SERVER_OPTIONS } from '../../webhook/src/config.js';
import { MUTATE_OPTIONS } from '../../webhook/src/mutate-cli.js';
import { REPO_ROOT } from './fixtures.js';

const doc = readFileSync(join(REPO_ROOT, 'docs/webhook.md'), 'utf8');
const errors = readFileSync(join(REPO_ROOT, 'webhook/src/errors.ts'), 'utf8');

describe('docs/webhook.md', () => {
  it.each([...Object.keys(SERVER_OPTIONS), ...Object.keys(MUTATION_OPTIONS), ...Object.keys(MUTATE_OPTIONS)])('documents --%s', (flag) => {
    expect(doc).toContain(`--${flag}`);
  });

  it('has a row for every error code', () => {
    const codes = [...errors.matchAll(/^\s+\| '(E_[A-Z_]+)'/gm)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(10);
    for (const code of codes) expect(doc).toContain(`| \`${code}\` |`);
  });
});
