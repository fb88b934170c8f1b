// I/O edge: where the JSON log lines go. One write(2) per line costs ~6 us on the request path,
// so lines are gathered and written once per event-loop turn (or at 64 KiB). Callers flush on
// exit; a SIGKILL loses at most the lines of the current turn.

export interface LineBuffer {
  write(line: string): void;
  flush(): void;
}

export function createLineBuffer(out: { write(chunk: string): unknown } = process.stdout, maxChars = 64 * 1024): LineBuffer {
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    out.write(chunk);
  };
  return {
    write(line) {
      pending += line;
      if (pending.length >= maxChars) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
