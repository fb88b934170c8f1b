// The sidecar's logger: pino, writing JSON lines to stderr in the webhook's format (numeric
// `level`, `time` in epoch milliseconds, `pid`, `hostname`, `msg`), plus `component`. Its
// interface keeps the message first, as the sidecar's callers write it.
import { pino, type DestinationStream, type Level } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /**
   * Where the lines go; stderr by default, written synchronously: the sidecar logs a few lines
   * per VM, and a line written at once survives whatever ends the process next.
   */
  readonly destination?: DestinationStream;
  /** Entries below this level are dropped. */
  readonly level?: LogLevel;
}

/**
 * @example createLogger().info('listening', { socket })
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const destination = opts.destination ?? pino.destination({ dest: 2, sync: true });
  // `error` is the sidecar's field for a failure; an Error there keeps its message and stack.
  const root = pino({ level: opts.level ?? 'info', serializers: { error: pino.stdSerializers.err } }, destination).child({ component: 'hook-sidecar' });
  const at =
    (level: Level) =>
    (msg: string, fields?: LogFields): void =>
      fields === undefined ? root[level](msg) : root[level](fields, msg);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
