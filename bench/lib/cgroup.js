// A throw-away cgroup with a memory limit and an optional CFS CPU quota, on cgroup v1 (separate
// memory and cpu hierarchies) or v2 (one unified hierarchy), as a container runtime sets them up
// for a pod's container. Needs root. Reads the figures the bench reports: memory use and peak,
// anonymous and page-cache memory, major faults, OOM kills. Also the page-cache knobs of a cold
// start: drop_caches and the read-ahead of a block device.
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** 'v2' when the unified hierarchy is mounted at /sys/fs/cgroup, 'v1' when memory is a v1 controller, else undefined. */
export function cgroupVersion() {
  if (existsSync(join(ROOT, 'cgroup.controllers'))) return 'v2';
  if (existsSync(join(ROOT, 'memory', 'memory.limit_in_bytes'))) return 'v1';
  return undefined;
}

function v1CpuRoot() {
  for (const d of ['cpu', 'cpu,cpuacct']) if (existsSync(join(ROOT, d, 'cpu.cfs_quota_us'))) return join(ROOT, d);
  throw new Error(`no cgroup v1 cpu controller under ${ROOT}`);
}

function readKeyed(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/**
 * Creates the cgroup `name` limited to `memoryBytes` (no swap), with `cpu: { quotaUs, periodUs }`
 * when given. `join(pid)` moves a process in; `stats()` reads it; `remove()` deletes it once empty.
 */
export function createCgroup(name, { memoryBytes, cpu }) {
  const version = cgroupVersion();
  if (version === undefined) throw new Error(`no cgroup memory controller under ${ROOT}`);
  const dirs = [];
  let memDir;
  if (version === 'v2') {
    // Children of the root get the memory and cpu controllers only when the root delegates them.
    const wanted = cpu === undefined ? ['memory'] : ['memory', 'cpu'];
    const enabled = readFileSync(join(ROOT, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
    const missing = wanted.filter((c) => !enabled.includes(c));
    if (missing.length > 0) writeFileSync(join(ROOT, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
    memDir = join(ROOT, name);
    mkdirSync(memDir);
    dirs.push(memDir);
    writeFileSync(join(memDir, 'memory.max'), String(memoryBytes));
    if (existsSync(join(memDir, 'memory.swap.max'))) writeFileSync(join(memDir, 'memory.swap.max'), '0');
    if (cpu !== undefined) writeFileSync(join(memDir, 'cpu.max'), `${cpu.quotaUs} ${cpu.periodUs}`);
  } else {
    memDir = join(ROOT, 'memory', name);
    mkdirSync(memDir);
    dirs.push(memDir);
    writeFileSync(join(memDir, 'memory.limit_in_bytes'), String(memoryBytes));
    if (existsSync(join(memDir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(memDir, 'memory.memsw.limit_in_bytes'), String(memoryBytes));
    if (cpu !== undefined) {
      const cpuDir = join(v1CpuRoot(), name);
      mkdirSync(cpuDir);
      dirs.push(cpuDir);
      writeFileSync(join(cpuDir, 'cpu.cfs_period_us'), String(cpu.periodUs));
      writeFileSync(join(cpuDir, 'cpu.cfs_quota_us'), String(cpu.quotaUs));
    }
  }
  return {
    version,
    /** Files a shell writes its own pid into (`echo $$ > file`) to enter the cgroup before it execs. */
    procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
    /** Memory in use now and at the peak, anonymous and page cache, major faults, OOM kills (bytes, counts). */
    stats() {
      const stat = readKeyed(join(memDir, 'memory.stat'));
      if (version === 'v2') {
        const events = readKeyed(join(memDir, 'memory.events'));
        const peakFile = join(memDir, 'memory.peak');
        return {
          usage: Number(readFileSync(join(memDir, 'memory.current'), 'utf8')),
          peak: existsSync(peakFile) ? Number(readFileSync(peakFile, 'utf8')) : Number.NaN,
          anon: stat.anon,
          file: stat.file,
          majorFaults: stat.pgmajfault,
          oomKills: events.oom_kill ?? 0,
        };
      }
      const oom = readKeyed(join(memDir, 'memory.oom_control'));
      return {
        usage: Number(readFileSync(join(memDir, 'memory.usage_in_bytes'), 'utf8')),
        peak: Number(readFileSync(join(memDir, 'memory.max_usage_in_bytes'), 'utf8')),
        anon: stat.rss,
        file: stat.cache,
        majorFaults: stat.pgmajfault,
        oomKills: oom.oom_kill ?? 0,
      };
    },
    /** Deletes the cgroup; its processes must have exited. Retries briefly while the kernel lets go. */
    async remove() {
      for (const d of dirs.reverse()) {
        for (let i = 0; ; i++) {
          try {
            rmdirSync(d);
            break;
          } catch (err) {
            if (err.code === 'ENOENT') break;
            if (i >= 50) throw err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
    },
  };
}

/** Writes back dirty pages and drops the page cache, so the next start reads every file from disk. */
export function dropCaches() {
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** The kernel's default read-ahead of a block device (VM_READAHEAD_PAGES, 128 KiB). */
export const DEFAULT_READ_AHEAD_KB = 128;

/**
 * The read-ahead setting of the block device that holds `path` (its `queue/read_ahead_kb`, a
 * partition's from its disk), or undefined when `path` lies on no block device (tmpfs, overlay).
 * Every page fault on a file mapped from that device reads this much around the page, and in a
 * small memory cgroup those pages are charged to it.
 */
export function readAhead(path) {
  const dev = statSync(path).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
  const base = `/sys/dev/block/${major}:${minor}`;
  const file = [join(base, 'queue', 'read_ahead_kb'), join(base, '..', 'queue', 'read_ahead_kb')].find((f) => existsSync(f));
  if (file === undefined) return undefined;
  return {
    file,
    kb: Number(readFileSync(file, 'utf8').trim()),
    set: (kb) => writeFileSync(file, String(kb)),
  };
}
