// I/O edge: where the JSON log lines go. A write(2) per line (plus the stream machinery around
// it) costs ~5 us on the request path, so lines are gathered and written together at most
// `maxDelayMs` later, or at once past `maxChars`. Callers flush on close and exit; a SIGKILL
// loses at most the last `maxDelayMs` of lines.

export interface LineBuffer {
  write(line: string): void;
  flush(): void;
}

export interface LineBufferOptions {
  readonly maxChars?: number;
  readonly maxDelayMs?: number;
}

export function createLineBuffer(out: { write(chunk: string): unknown } = process.stdout, opts: LineBufferOptions = {}): LineBuffer {
  const maxChars = opts.maxChars ?? 64 * 1024;
  const maxDelayMs = opts.maxDelayMs ?? 10;
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    out.write(chunk);
  };
  return {
    write(line) {
      pending += line;
      if (pending.length >= maxChars) flush();
      else if (timer === undefined) {
        // Unref'd: pending lines never keep the process alive (exit handlers flush them).
        timer = setTimeout(flush, maxDelayMs);
        timer.unref();
      }
    },
    flush,
  };
}
