// The AdmissionReview files embed the pod fixtures; this keeps them in step.
// After editing a pod: UPDATE_FIXTURES=1 npx vitest run test/webhook/fixtures.test.ts
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REVIEWS_DIR, expectedReviewFiles, podNames, REVIEW_CASES } from './fixtures.js';

const expected = expectedReviewFiles();

if (process.env['UPDATE_FIXTURES'] === '1') {
  for (const [name, review] of expected) writeFileSync(join(REVIEWS_DIR, `${name}.json`), `${JSON.stringify(review, null, 2)}\n`);
}

describe('fixtures/admission-reviews', () => {
  it.each([...expected.keys()])('%s.json embeds the current pod fixture', (name) => {
    const text = readFileSync(join(REVIEWS_DIR, `${name}.json`), 'utf8');
    expect(JSON.parse(text)).toEqual(expected.get(name));
  });

  it('has no review file without a case', () => {
    const files = readdirSync(REVIEWS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    expect(files.sort()).toEqual([...expected.keys()].sort());
  });

  it('uses every pod fixture in some review', () => {
    const used = new Set(Object.values(REVIEW_CASES).map((c) => c.pod));
    expect(podNames().filter((p) => !used.has(p))).toEqual([]);
  });
});
