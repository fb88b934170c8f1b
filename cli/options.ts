// Pure. Option tables: one per command, read by the parser and by --help alike, so the help can
// never list a flag the parser does not take or miss one it does.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: true;
  /** Placeholder for the value in help text. */
  readonly value?: string;
  /** Default value as text (a comma list for multiple options). */
  readonly default?: string;
  readonly short?: string;
  readonly help: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** A bad command line: the CLI prints it as `error: E_USAGE: ...` and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError' as const;
  readonly code = 'E_USAGE';
}

/**
 * node:util parseArgs over an option table: strict, no positionals, `--flag=true|false` for
 * booleans, defaults filled in (booleans false).
 *
 * @throws UsageError naming the flag.
 */
export function parseOptions(argv: readonly string[], options: OptionTable): OptionValues {
  const args = argv.map((a) => {
    const m = /^--([a-z-]+)=(true|false)$/.exec(a);
    return m !== null && options[m[1] ?? '']?.type === 'boolean' ? (m[2] === 'true' ? `--${m[1]}` : '') : a;
  });
  let values: OptionValues;
  try {
    // parseArgs gets only type, multiple and short: its own `default` would bypass validation.
    const spec = Object.fromEntries(
      Object.entries(options).map(([k, o]) => [k, { type: o.type, multiple: o.multiple === true, ...(o.short !== undefined ? { short: o.short } : {}) }]),
    );
    values = parseArgs({ args: args.filter((a) => a !== ''), options: spec, strict: true, allowPositionals: false }).values as OptionValues;
  } catch (err) {
    // Node's message continues with advice on positionals; the first sentence names the flag.
    throw new UsageError(`${(err instanceof Error ? err.message : String(err)).split('. ')[0] ?? ''} (see --help)`);
  }
  const out: OptionValues = {};
  for (const [name, spec] of Object.entries(options)) {
    const v = values[name];
    if (v !== undefined) out[name] = v;
    else if (spec.type === 'boolean') out[name] = false;
    else if (spec.default !== undefined) out[name] = spec.multiple === true ? spec.default.split(',') : spec.default;
  }
  return out;
}

/** The options of a table as help text, one aligned row each. */
export function describeOptions(options: OptionTable): string {
  const rows = Object.entries(options).map(([name, spec]) => {
    const head = `${spec.short === undefined ? '' : `-${spec.short}, `}--${name}${spec.value === undefined ? '' : ` <${spec.value}>`}`;
    const dflt = spec.default === undefined ? '' : ` (default: ${spec.default})`;
    return [head, `${spec.help}${dflt}`] as const;
  });
  const width = Math.max(...rows.map(([h]) => h.length));
  return rows.map(([h, t]) => `  ${h.padEnd(width)}  ${t}`).join('\n');
}

/** The usage text of a command: a synopsis, what it does, and its option tables. */
export function usageText(synopsis: string, description: string, sections: readonly (readonly [string, OptionTable])[]): string {
  return [`Usage: kubevirt-vhostuser ${synopsis}`, '', description, '', ...sections.flatMap(([title, table]) => [`${title}:`, describeOptions(table), '']), EXIT_CODES_HELP, ''].join('\n');
}

export const EXIT_CODES_HELP = 'Exit codes: 0 success, 1 bad input or a failure (one "error: CODE: message" line on stderr), 2 bad command line.';

/** `--help` and `-h`, which every command takes. */
export const HELP_OPTION: OptionTable = { help: { type: 'boolean', short: 'h', help: 'show this help' } };
