// Pure. What a subcommand is, and the one error printer of the CLI: every failure is one
// `error: CODE: message` line on stderr, exit 1 for bad input, 2 for a bad command line.

export interface Subcommand {
  /** Runs the subcommand; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** Exit codes of every command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Codes whose errors are a bad command line rather than bad input. */
const USAGE_CODES: ReadonlySet<string> = new Set(['E_USAGE', 'E_CONFIG', 'E_CONFIG_INVALID']);

/** A failure of the command itself (an unreadable input file, say), with a stable code. */
export class CliError extends Error {
  override name = 'CliError' as const;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The code of an error of ours (ConverterError, WebhookError, UsageError, CliError), if it has one. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E_[A-Z_]+$/.test(code) ? code : undefined;
}

/**
 * A command that computes its whole output first (`run` prints nothing itself), then writes it in
 * one piece: nothing half-written on failure, warnings as `warning: ...` lines on stderr.
 */
export function printingCommand(run: (argv: readonly string[], warn: (line: string) => void) => Promise<string>): Subcommand {
  return {
    async run(argv: string[]): Promise<number> {
      try {
        process.stdout.write(await run(argv, (line) => process.stderr.write(`warning: ${line}\n`)));
        return EXIT.ok;
      } catch (err) {
        return reportError(err);
      }
    },
  };
}

/** `error: CODE: message` on one line (no stack), and the exit code it calls for. */
export function reportError(err: unknown, write: (line: string) => void = (l) => process.stderr.write(l)): number {
  const code = codeOf(err);
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  write(`error: ${code === undefined ? 'E_INTERNAL' : code}: ${message}\n`);
  return code !== undefined && USAGE_CODES.has(code) ? EXIT.usage : EXIT.failure;
}
