// I/O edge: where the JSON log lines go. A write(2) per line (plus the stream machinery around
// it) costs several microseconds on the request path, so lines are encoded into one buffer as
// they come (no strings kept alive between garbage collections) and written together at most
// `maxDelayMs` later, or when the buffer is full. Callers flush on close and exit; a SIGKILL
// loses at most the last `maxDelayMs` of lines.

export interface LineBuffer {
  write(line: string): void;
  flush(): void;
}

export interface LineBufferOptions {
  readonly maxBytes?: number;
  readonly maxDelayMs?: number;
}

export function createLineBuffer(out: { write(chunk: Uint8Array): unknown } = process.stdout, opts: LineBufferOptions = {}): LineBuffer {
  const buffer = Buffer.allocUnsafe(opts.maxBytes ?? 64 * 1024);
  const maxDelayMs = opts.maxDelayMs ?? 10;
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (used === 0) return;
    // A copy: a stream may still hold the chunk after write() returns (pipes, sockets).
    const chunk = Buffer.from(buffer.subarray(0, used));
    used = 0;
    out.write(chunk);
  };
  return {
    write(line) {
      // Measured only when it may not fit (3 UTF-8 bytes per UTF-16 unit at worst): measuring
      // every line would read it twice.
      if (used + line.length * 3 > buffer.length) {
        const size = Buffer.byteLength(line);
        if (used + size > buffer.length) flush();
        if (size > buffer.length) {
          out.write(Buffer.from(line));
          return;
        }
      }
      used += buffer.write(line, used);
      if (timer === undefined) {
        // Unref'd: pending lines never keep the process alive (exit handlers flush them).
        timer = setTimeout(flush, maxDelayMs);
        timer.unref();
      }
    },
    flush,
  };
}
