// Prints the hottest functions of a V8 .cpuprofile (from `node --cpu-prof`, or BENCH_CPU_PROF
// with npm run bench): self time and total time (self plus callees), by function and file.
// Usage: node bench/profile-summary.js FILE.cpuprofile [TOP=25] [FILTER]
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ROOT } from './lib/setup.js';

const [file, topArg = '25', filter] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('error: usage: node bench/profile-summary.js FILE.cpuprofile [TOP] [FILTER]\n');
  process.exit(2);
}
const profile = JSON.parse(await readFile(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Each sample is one tick of `interval` µs spent in the sampled node (self) and its ancestors (total).
const ticks = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  ticks.set(profile.samples[i], (ticks.get(profile.samples[i]) ?? 0) + dt);
}
const label = (n) => {
  const f = n.callFrame;
  const where = f.url === '' ? '' : ` ${relative(ROOT, f.url.replace('file://', ''))}:${f.lineNumber + 1}`;
  return `${f.functionName || '(anonymous)'}${where}`;
};
const self = new Map();
const total = new Map();
let all = 0;
for (const [id, us] of ticks) {
  all += us;
  const key = label(byId.get(id));
  self.set(key, (self.get(key) ?? 0) + us);
  // A recursive function counts once per sample in its total.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur));
    if (!seen.has(k)) total.set(k, (total.get(k) ?? 0) + us), seen.add(k);
  }
}
const top = Number(topArg);
const show = (title, map) => {
  process.stdout.write(`${title} (of ${(all / 1000).toFixed(0)} ms sampled)\n`);
  const rows = [...map].filter(([k]) => filter === undefined || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of rows) process.stdout.write(`${((100 * us) / all).toFixed(1).padStart(5)}%  ${k}\n`);
};
show('self time', self);
show('total time', total);
