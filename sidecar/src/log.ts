// JSON-lines logger for the sidecar: one object per line on a writable stream (stderr in
// production, a buffer in tests). No console.*; the clock is injectable for tests.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  /** Receives one complete line (with trailing newline) per entry. */
  readonly write: (line: string) => void;
  readonly now?: () => Date;
  /** Entries below this level are dropped. */
  readonly level?: LogLevel;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * @example jsonLogger({ write: (l) => process.stderr.write(l) }).info('listening', { socket })
 */
export function jsonLogger(opts: JsonLoggerOptions): Logger {
  const now = opts.now ?? (() => new Date());
  const min = rank[opts.level ?? 'info'];
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (rank[level] < min) return;
    const entry: LogFields = { time: now().toISOString(), level, msg, component: 'hook-sidecar' };
    // A field named like a fixed key must not hide it.
    for (const [key, value] of Object.entries(fields)) if (!(key in entry)) entry[key] = value;
    opts.write(`${safeStringify(entry)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    // A circular or BigInt field must not take the process down with it.
    return JSON.stringify({ level: 'error', msg: 'unserializable log entry' });
  }
}
