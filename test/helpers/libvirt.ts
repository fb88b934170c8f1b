// Test helper (I/O): runs libvirt's own checks on domain XML, with no daemon: the RelaxNG schema
// (virt-xml-validate) and libvirt's parser (virsh on the in-process test:/// driver).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DomainValidation {
  /** Schema check passed: `virt-xml-validate FILE domain` and `virsh define --validate FILE`. */
  readonly rng: boolean;
  /** libvirt's parser accepts it: `virsh define FILE` without --validate. */
  readonly parser: boolean;
  /** Every command's output, for assertion messages. */
  readonly output: string;
}

export interface RunOptions {
  /** PATH for the commands; tests of the helper itself point it at an empty directory. */
  readonly path?: string;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  /** The command line, stdout and stderr, for messages. */
  readonly output: string;
}

const TIMEOUT_MS = 20_000;
const TEST_URI = 'test:///default';

function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<Run> {
  const env = { ...process.env, LC_ALL: 'C', ...(opts.path === undefined ? {} : { PATH: opts.path }) };
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `$ ${cmd} ${args.join(' ')}\n${stdout}${stderr}`;
      if (err === null) return resolve({ code: 0, stdout, output });
      // A missing binary must never look like an invalid document.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error(`${cmd} is not installed (run scripts/setup.sh): ${err.message}`));
      if (err.killed === true) return reject(new Error(`${cmd} timed out after ${TIMEOUT_MS} ms\n${output}`));
      resolve({ code: typeof err.code === 'number' ? err.code : 1, stdout, output });
    });
  });
}

async function withTempFile<T>(content: string, use: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kvvu-domain-'));
  try {
    const file = join(dir, 'domain.xml');
    await writeFile(file, content);
    return await use(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Validates a domain with libvirt's schema and parser. Rejects (never resolves "invalid") when a
 * tool is missing: virt-xml-validate exits 127 without xmllint, and 3 for both "invalid" and
 * "cannot determine schema type", which is why the type is always passed.
 */
export function validateDomainXml(xml: string, opts: RunOptions = {}): Promise<DomainValidation> {
  return withTempFile(xml, async (file) => {
    const schema = await run('virt-xml-validate', [file, 'domain'], opts);
    if (schema.code === 127 || /cannot determine schema|xmllint.*not found|command not found/i.test(schema.output)) {
      throw new Error(`virt-xml-validate cannot run (is libxml2-utils installed?)\n${schema.output}`);
    }
    const strict = await run('virsh', ['-q', '-c', TEST_URI, 'define', '--validate', file], opts);
    const parser = await run('virsh', ['-q', '-c', TEST_URI, 'define', file], opts);
    return {
      rng: schema.code === 0 && strict.code === 0,
      parser: parser.code === 0,
      output: [schema.output, strict.output, parser.output].join('\n'),
    };
  });
}

/** libvirt's own rendering of a domain: `define` then `dumpxml` in one test-driver session. */
export function dumpDomainXml(xml: string, name: string, opts: RunOptions = {}): Promise<string> {
  return withTempFile(xml, async (file) => {
    const result = await run('virsh', ['-q', '-c', TEST_URI, `define ${file}; dumpxml --inactive ${name}`], opts);
    if (result.code !== 0) throw new Error(`virsh define/dumpxml failed\n${result.output}`);
    return result.stdout;
  });
}

/** The string value of an XPath expression, read by libxml2 (`xmllint --xpath 'string(...)'`). */
export function xpathString(xml: string, expr: string, opts: RunOptions = {}): Promise<string> {
  return withTempFile(xml, async (file) => {
    const result = await run('xmllint', ['--xpath', `string(${expr})`, file], opts);
    if (result.code !== 0) throw new Error(`xmllint --xpath failed\n${result.output}`);
    return result.stdout.replace(/\n$/, '');
  });
}

/** A small valid domain (shared memory, q35) around the given `<devices>` content. */
export function minimalDomain(devices: string, name = 'kvvu-test'): string {
  return [
    "<domain type='qemu'>",
    `  <name>${name}</name>`,
    "  <memory unit='MiB'>256</memory>",
    "  <memoryBacking>\n    <access mode='shared'/>\n  </memoryBacking>",
    "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>",
    '  <devices>',
    devices.trimEnd(),
    '  </devices>',
    '</domain>',
    '',
  ].join('\n');
}
