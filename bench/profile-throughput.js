// Profiles the throughput load alone: one bare and one webhook server under the same load for
// the same time, each writing a .cpuprofile to DIR, and prints each one's request count, so
// per-request costs of the two can be compared function by function (bench/profile-summary.js).
// Usage: node bench/profile-throughput.js DIR [SECONDS=10]   (after npm run build)
import { runLoad } from './lib/load.js';
import { startServer } from './lib/servers.js';
import { loadReview, makeCertDir } from './lib/setup.js';

const [dir, seconds = '10'] = process.argv.slice(2);
if (dir === undefined) {
  process.stderr.write('error: usage: node bench/profile-throughput.js DIR [SECONDS]\n');
  process.exit(2);
}
process.env.BENCH_CPU_PROF = dir;
const cert = await makeCertDir();
const review = await loadReview();
try {
  for (const kind of ['bare', 'webhook']) {
    const server = await startServer(kind, cert);
    try {
      // Warm-up first, so the profile holds optimised code only as far as possible.
      await runLoad({ url: server.url, body: review, connections: 10, durationS: 2 });
      const load = await runLoad({ url: server.url, body: review, connections: 10, durationS: Number(seconds) });
      process.stdout.write(`${kind}: pid ${server.pid}, ${load.requests} requests, ${Math.round(load.rps)} req/s\n`);
    } finally {
      await server.stop();
    }
  }
} finally {
  await cert.cleanup();
}
