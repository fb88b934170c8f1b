// Domain rewrite at scale, in this process: rewriteDomain() on a one-line domain holding 10 000
// stale interfaces of ours (each replaced in place), on the same domain without them (10 000
// added), and on a domain whose root element carries 20 000 attributes. Returns figures and
// asserts nothing about time (test/converter/rewrite-scale.test.ts checks the output and linearity).
// Each figure comes as wall-clock ms and as `*_cpu_ms`, this thread's CPU time.
import { importDist } from './lib/setup.js';
import { median, round } from './lib/stats.js';
import { manyAttributesDomain, manyInterfaces, oneLineDomain } from '../test/converter/large-domains.ts';

const RUNS = 9;
const INTERFACES = 10_000;
const ATTRIBUTES = 20_000;

/**
 * ms per call, wall clock and this thread's CPU time: the best of RUNS after two warm-up calls
 * (the best run is the least disturbed). CPU time leaves out the time other processes took the
 * core, which on a shared machine is most of the spread of the wall-clock figure.
 */
function timeRuns(fn) {
  fn();
  fn();
  const wall = [];
  const cpu = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    const used = process.threadCpuUsage();
    fn();
    const spent = process.threadCpuUsage(used);
    wall.push(performance.now() - start);
    cpu.push((spent.user + spent.system) / 1000);
  }
  return { best: Math.min(...wall), median: median(wall), cpu: Math.min(...cpu) };
}

export async function benchRewriteScale({ say }) {
  const { rewriteDomain } = await importDist('converter/src/index.js');
  const ifaces = manyInterfaces(INTERFACES);
  const [first] = ifaces;
  const cases = [
    { figure: `rewrite_${INTERFACES}_ifaces_one_line_ms`, domainXml: oneLineDomain(INTERFACES), ifaces, what: `${INTERFACES} stale interfaces replaced on one line` },
    { figure: `rewrite_${INTERFACES}_ifaces_one_line_add_ms`, domainXml: oneLineDomain(0), ifaces, what: `${INTERFACES} interfaces added on one line` },
    { figure: `rewrite_${ATTRIBUTES}_attrs_one_element_ms`, domainXml: manyAttributesDomain(ATTRIBUTES), ifaces: [first], what: `${ATTRIBUTES} attributes on the root element` },
  ];
  const figures = {};
  const detail = [];
  for (const c of cases) {
    const outBytes = Buffer.byteLength(rewriteDomain(c.domainXml, c.ifaces));
    const { best, median: med, cpu } = timeRuns(() => rewriteDomain(c.domainXml, c.ifaces));
    figures[c.figure] = round(best, 1);
    figures[c.figure.replace(/_ms$/, '_cpu_ms')] = round(cpu, 1);
    detail.push({ figure: c.figure, inBytes: Buffer.byteLength(c.domainXml), outBytes, bestMs: round(best, 2), medianMs: round(med, 2), cpuMs: round(cpu, 2) });
    say(`  ${c.what}: ${best.toFixed(1)} ms (median ${med.toFixed(1)}, CPU ${cpu.toFixed(1)}), ${outBytes} B out`);
  }
  return { figures, detail };
}
