// I/O edge: where the webhook's JSON log lines go. pino's own asynchronous destination
// (sonic-boom) gathers lines in memory and writes them together, so the request path pays no
// write(2) per line. pino flushes it synchronously on exit; the server also flushes it after
// draining, so a stop loses no line.
import { pino, type DestinationStream } from 'pino';

/** Bytes gathered before a write. */
export const LOG_MIN_BYTES = 4096;
/** A quiet webhook's lines still go out this soon; it bounds what a SIGKILL can lose. */
export const LOG_FLUSH_MS = 100;

/** What buildApp and runWebhook log to: a pino destination, or any line sink in tests. */
export type LogDestination = DestinationStream;

/** stdout (fd 1) by default; a path appends to that file (tests read it back). */
export function createLogDestination(dest: number | string = 1): LogDestination & { flush(cb: (err?: Error) => unknown): void } {
  return pino.destination({ dest, sync: false, minLength: LOG_MIN_BYTES, periodicFlush: LOG_FLUSH_MS });
}

/** Resolves once the lines written so far have left the destination; at once for a sink without flush(). */
export function flushLog(dest: LogDestination): Promise<void> {
  const flushable = dest as Partial<{ flush(cb: (err?: Error) => unknown): void }>;
  if (typeof flushable.flush !== 'function') return Promise.resolve();
  // An error (a closed pipe) loses the lines whatever we do; stopping must not wait on it.
  return new Promise((resolve) => flushable.flush?.(() => resolve()));
}
