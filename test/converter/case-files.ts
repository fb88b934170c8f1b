// Test helper (I/O): loads a fixture case from fixtures/cases/<name>/ (annotations in kubelet's
// format, vmi.yaml, optional domain.xml) the way the CLI would.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseDownwardApiFile } from '../../converter/src/podnetinfo/parse.js';

export const repoRoot = join(import.meta.dirname, '../..');
export const casesDir = join(repoRoot, 'fixtures/cases');

export interface CaseInput {
  readonly dir: string;
  readonly annotations: Map<string, string>;
  readonly vmi: unknown;
  readonly domainXml?: string;
  /** The case's converter settings (`settings.json`), e.g. the socket directories its CNI used. */
  readonly config?: { allowedSocketDirs?: string[] };
}

/** `settings.json` of a case, if it has one. */
export function loadCaseSettings(name: string): { allowedSocketDirs?: string[] } | undefined {
  const file = join(casesDir, name, 'settings.json');
  if (!existsSync(file)) return undefined;
  const { allowedSocketDirs } = JSON.parse(readFileSync(file, 'utf8')) as { allowedSocketDirs?: string[] };
  return allowedSocketDirs === undefined ? {} : { allowedSocketDirs };
}

export function caseNames(kind: 'golden' | 'error'): string[] {
  return readdirSync(casesDir)
    .filter((name) => name.startsWith('error-') === (kind === 'error'))
    .sort();
}

/** The first document of the case's vmi.yaml. */
export function loadCaseVmi(name: string): unknown {
  return parseAllDocuments(readFileSync(join(casesDir, name, 'vmi.yaml'), 'utf8'))[0]?.toJS() as unknown;
}

export function loadCase(name: string): CaseInput {
  const dir = join(casesDir, name);
  const file = join(dir, 'annotations');
  const domainFile = join(dir, 'domain.xml');
  const config = loadCaseSettings(name);
  return {
    ...(config !== undefined ? { config } : {}),
    dir,
    annotations: parseDownwardApiFile(readFileSync(file, 'utf8'), file),
    vmi: loadCaseVmi(name),
    ...(existsSync(domainFile) ? { domainXml: readFileSync(domainFile, 'utf8') } : {}),
  };
}

/** Puts bare interface elements into the smallest domain libvirt accepts with vhost-user. */
export function wrapInDomain(interfacesXml: string): string {
  return [
    "<domain type='qemu'>",
    '  <name>case</name>',
    "  <memory unit='MiB'>256</memory>",
    "  <memoryBacking><access mode='shared'/></memoryBacking>",
    "  <os><type arch='x86_64' machine='q35'>hvm</type></os>",
    '  <devices>',
    interfacesXml,
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}
