// docs/troubleshooting.md has a row (symptom, cause, fix) for every error code the code base has:
// the converter's (and the hook status the sidecar answers each with, asked of the sidecar
// itself), the webhook's catalogue, and every other `E_...` code a source file spells; and the
// situations before any code that operators meet first.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConverterError, type ConverterErrorCode } from '../../converter/src/errors.js';
import { HookError, onDefineDomain } from '../../sidecar/src/on-define-domain.js';
import { ERROR_CATALOGUE } from '../../webhook/src/errors.js';
import { ROOT } from './markdown.js';

const doc = readFileSync(join(ROOT, 'docs/troubleshooting.md'), 'utf8');

/** Table rows whose first cell is a code: code -> the other cells. */
const rows = new Map([...doc.matchAll(/^\| `(E_[A-Z0-9_]+)` \|(.*)\|$/gm)].map((m) => [m[1] ?? '', (m[2] ?? '').split('|').map((c) => c.trim())]));

/** Every `E_...` code spelled as a string in the sources (quoted, or after `error: `). */
function codesInSources(): Set<string> {
  const codes = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const rel = join(dir, name);
      if (statSync(join(ROOT, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|js)$/.test(name)) {
        const text = readFileSync(join(ROOT, rel), 'utf8');
        for (const m of text.matchAll(/['"`](E_[A-Z][A-Z0-9_]+)['"`:]|error: (E_[A-Z][A-Z0-9_]+):/g)) codes.add(m[1] ?? m[2] ?? '');
      }
    }
  };
  for (const dir of ['bin', 'cli', 'converter/src', 'sidecar/src', 'webhook/src']) walk(dir);
  return codes;
}

/** The converter's codes: the ones the sources raise as ConverterError. */
function converterCodes(): ConverterErrorCode[] {
  const text = readFileSync(join(ROOT, 'converter/src/errors.ts'), 'utf8');
  const union = /export type ConverterErrorCode =([\s\S]*?);/.exec(text)?.[1] ?? '';
  return [...union.matchAll(/'(E_[A-Z0-9_]+)'/g)].map((m) => m[1] as ConverterErrorCode);
}

/** The gRPC status the sidecar answers a converter error with, asked of onDefineDomain itself. */
async function sidecarStatus(code: ConverterErrorCode): Promise<string> {
  const vmi = { metadata: { name: 'vm1', namespace: 'vms' }, spec: { domain: { devices: { interfaces: [{ name: 'dpdk0', vhostuser: {} }] } }, networks: [{ name: 'dpdk0', multus: { networkName: 'n' } }] } };
  const err = await onDefineDomain('<domain><devices/></domain>', JSON.stringify(vmi), { bindingNames: ['vhostuser'], rewrite: () => Promise.reject(new ConverterError(code, 'x')) }, 0).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof HookError)) throw new Error(`${code}: no HookError`);
  return err.status;
}

describe('docs/troubleshooting.md', () => {
  it('covers every error code the sources spell, and lists none they do not', () => {
    const codes = codesInSources();
    expect(codes.size).toBeGreaterThan(40);
    expect([...codes].filter((c) => !rows.has(c)).sort()).toEqual([]);
    expect([...rows.keys()].filter((c) => !codes.has(c)).sort()).toEqual([]);
  });

  it.each(converterCodes())("%s: the sidecar's status as the sidecar answers it, then symptom, cause and fix", async (code) => {
    const cells = rows.get(code);
    expect(cells, code).toHaveLength(4);
    expect(cells?.[0]).toBe(await sidecarStatus(code));
    for (const c of cells?.slice(1) ?? []) expect(c).toMatch(/\w/);
  });

  it.each(Object.keys(ERROR_CATALOGUE))('%s: symptom, cause and fix', (code) => {
    const cells = rows.get(code);
    expect(cells, code).toHaveLength(3);
    for (const c of cells ?? []) expect(c).toMatch(/\w/);
  });

  it('answers the failures before any code: Pod Security, hugepages, FAILED_PRECONDITION, the CNI timeout, permission denied, OVS not connecting', () => {
    const section = doc.split(/^## /m).find((s) => s.startsWith('Symptoms before an error code')) ?? '';
    for (const what of ['Pod Security rejection', 'Missing hugepages', 'FAILED_PRECONDITION', 'Timeout waiting for CNI annotations', 'Permission denied on the socket', 'OVS is not connecting']) {
      const row = section.split('\n').find((l) => l.includes(what));
      expect(row, what).toBeDefined();
      expect(row?.split('|').filter((c) => c.trim() !== '')).toHaveLength(3);
    }
  });

  it('gives the wait as the sidecar has it', async () => {
    const { DEFAULT_WAIT_SECONDS } = await import('../../converter/src/contract.js');
    const { KUBEVIRT_CALL_TIMEOUT_SECONDS } = await import('../../sidecar/src/constants.js');
    expect(doc).toContain(`still missing after ${DEFAULT_WAIT_SECONDS}s`);
    expect(doc).toContain(`default ${DEFAULT_WAIT_SECONDS} s, at most ${KUBEVIRT_CALL_TIMEOUT_SECONDS}`);
  });
});
