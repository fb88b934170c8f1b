// What /proc says of a bench's child process: its memory from /proc/<pid>/status.
import { readFileSync } from 'node:fs';

/**
 * VmRSS, RssAnon, RssFile and VmHWM (the peak RSS since start) of a process, in bytes; undefined
 * once it is gone.
 */
export function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}
