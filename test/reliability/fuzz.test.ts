// Property-based fuzzing with a modest run count (bench/fuzz.js does 100 000): arbitrary request
// bodies through POST /mutate, and arbitrary VMIs, annotation files and domains through the
// converter, with a sample of its output checked by libvirt's own schema and parser.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { convert, formatDownwardApiFile, isConverterError, parseDownwardApiFile } from '../../converter/src/index.js';
import { minimalDomain, validateDomainXml, xpathString } from '../helpers/libvirt.js';
import { REPO_ROOT, REVIEW_CASES, loadReview } from '../webhook/fixtures.js';
import { caseArbitrary, checkConvert, hostility, type ConverterApi, type ConverterResult } from './converter-fuzz.js';
import { figure, harness } from './helpers.js';
import { bodyArbitrary, checkAdmission, type Outcome } from './webhook-fuzz.js';

const RUNS = 400;
const LIBVIRT_SAMPLES = 6;
// The fixture domains libvirt's schema accepts as they are (KubeVirt's own fail on <sysinfo>).
const DOMAINS = ['busy', 'numa', 'kubeovn-dpdk-vm', 'libvirt-net-vhostuser', 'libvirt-net-vhostuser-multiq'].map((d) =>
  readFileSync(join(REPO_ROOT, 'fixtures/domains', `${d}.xml`), 'utf8'),
);
const api: ConverterApi = { convert, parseDownwardApiFile, formatDownwardApiFile, isConverterError };

function tally<T extends string>(list: readonly T[]): string {
  const counts = new Map<T, number>();
  for (const x of list) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}=${n}`).join(' ');
}

describe('POST /mutate (fuzz)', () => {
  const h = harness();
  afterAll(() => h.close());

  it(`answers ${RUNS} arbitrary bodies with an AdmissionReview or a 4xx error; every patch applies and is idempotent`, async () => {
    const outcomes: Outcome[] = [];
    const bases = Object.keys(REVIEW_CASES).map(loadReview);
    await fc.assert(
      fc.asyncProperty(bodyArbitrary(bases), async (body) => void outcomes.push(await checkAdmission(h.post, body))),
      { numRuns: RUNS },
    );
    figure('fuzz webhook: runs', outcomes.length);
    figure('fuzz webhook: outcomes', tally(outcomes));
    // The generator reaches every kind of answer, so the checks above were exercised.
    for (const o of ['patched', 'allowed', 'denied', 'refused-4xx'] as const) expect(outcomes).toContain(o);
    expect((await h.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('convert (fuzz)', () => {
  it(`gives libvirt-valid XML or a ConverterError for ${RUNS} arbitrary VMIs, annotation files and domains`, async () => {
    const results: ConverterResult[] = [];
    fc.assert(
      fc.property(caseArbitrary(api, DOMAINS), (c) => void results.push(checkConvert(api, c))),
      { numRuns: RUNS },
    );
    const xml = results.filter((r) => r.kind === 'xml');
    figure('fuzz converter: runs', results.length);
    figure('fuzz converter: outcomes', tally(results.map((r) => (r.kind === 'xml' ? (r.fragment ? 'interfaces' : 'domain') : r.code))));
    expect(xml.length).toBeGreaterThan(RUNS / 20);

    // libvirt spawns processes: check the most hostile outputs and a few others, not all.
    const sample = [...xml].sort((a, b) => hostility(b) - hostility(a)).slice(0, LIBVIRT_SAMPLES / 2);
    sample.push(...xml.filter((r) => !sample.includes(r) && r.sockets.length > 0).slice(0, LIBVIRT_SAMPLES - sample.length));
    for (const r of sample) {
      if (r.kind !== 'xml') continue;
      const doc = r.fragment ? minimalDomain(r.xml) : r.xml;
      const v = await validateDomainXml(doc);
      expect(v.rng && v.parser, v.output).toBe(true);
      for (const [alias, path] of r.sockets) {
        // libxml2 reads the attribute back exactly: nothing in a path escaped its quotes.
        expect(await xpathString(doc, `//interface[alias/@name=${JSON.stringify(alias)}]/source/@path`)).toBe(path);
      }
    }
    figure('fuzz converter: outputs validated by libvirt', sample.length);
    figure('fuzz converter: most hostile socket path validated', JSON.stringify(sample[0]?.kind === 'xml' ? sample[0].sockets[0]?.[1] : ''));
  });
});
