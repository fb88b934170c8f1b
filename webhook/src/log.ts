// I/O edge: where the webhook's JSON log lines go. pino's own asynchronous destination gathers
// them and writes them together, so the request path pays no write(2) per line; pino flushes it
// on exit and the server after draining, so a stop loses no line.
import { pino, type DestinationStream } from 'pino';

/** Bytes gathered before a write. */
export const LOG_MIN_BYTES = 4096;
/** A quiet webhook's lines still go out this soon; it bounds what a SIGKILL can lose. */
export const LOG_FLUSH_MS = 100;

/** What buildApp and runWebhook log to: a pino destination, or any line sink in tests. */
export type LogDestination = DestinationStream;

/**
 * stdout (fd 1) by default; a path appends to that file (tests read it back).
 * @example buildApp(config, { lookups, metrics, logStream: createLogDestination() })
 */
export function createLogDestination(dest: number | string = 1): LogDestination & { flush(cb: (err?: Error) => unknown): void } {
  return pino.destination({ dest, sync: false, minLength: LOG_MIN_BYTES, periodicFlush: LOG_FLUSH_MS });
}

interface Flushable {
  flush(cb: (err?: Error) => unknown): void;
  flushSync(): void;
}

/** Resolves once the lines written so far have left the destination; at once for a sink without flush(). */
export function flushLog(dest: LogDestination): Promise<void> {
  const d = dest as Partial<Flushable>;
  if (typeof d.flush !== 'function' || typeof d.flushSync !== 'function') return Promise.resolve();
  const { flush, flushSync } = d as Flushable;
  return new Promise((resolve) =>
    // flush(cb) waits for the write in flight but may call back with up to minLength bytes still
    // gathered; with no write in flight by then, flushSync() writes those in order.
    flush.call(d, () => {
      try {
        flushSync.call(d);
      } catch {
        // Destroyed, or a closed pipe: those lines are lost whatever we do, and stopping must not wait.
      }
      resolve();
    }),
  );
}
