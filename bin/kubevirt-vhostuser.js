#!/usr/bin/env node
// Entry point of the `kubevirt-vhostuser` command. The TypeScript sources are compiled to dist/
// by `npm ci` (the `prepare` script) or `npm run build`, which also bundles `hook-sidecar` and
// `webhook` into dist/cli/<command>.mjs (scripts/bundle-commands.js): KubeVirt starts the sidecar
// once per VM in 64M of memory, the webhook serves every launcher pod, and one file costs either
// less memory and start-up than the modules. Without its bundle a command runs from the modules,
// the same code.
// The Node version is checked before anything else is loaded, in syntax every Node runs: an older
// Node would fail somewhere inside with a message that does not say the version is the problem.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

/** Commands with a bundle of their own, dist/cli/<command>.mjs. */
const BUNDLED = ['hook-sidecar', 'webhook'];

if (Number(process.versions.node.split('.')[0]) < 24) {
  process.stderr.write(
    `error: E_NODE_VERSION: kubevirt-vhostuser needs Node 24 or later, this is Node ${process.versions.node}; in the project run it as \`npx kubevirt-vhostuser ...\`, which uses its own Node 24 (node_modules/.bin/node)\n`,
  );
  process.exitCode = 1;
} else {
  const argv = process.argv.slice(2);
  if (argv[0] === 'hook-sidecar') {
    // The sidecar's handful of calls run well enough on V8's interpreter; its optimising tiers
    // would add about 10 MiB of compiled code and compiler memory at the peak of a run of calls,
    // a sixth of KubeVirt's 64M. Set here, not in the image's ENTRYPOINT, which the webhook
    // shares: its throughput needs them. They only decide what a function tiers up to later.
    setFlagsFromString('--no-opt --no-maglev --no-sparkplug');
  }
  if (argv[0] === 'webhook') {
    // V8's heuristics that favour memory over speed (smaller heap growth, leaner optimised code):
    // about 6 MiB less under load for a few per cent of CPU per request (docs/benchmarks.md,
    // "Webhook footprint"). Here rather than in the ENTRYPOINT, so that the sidecar keeps its own.
    setFlagsFromString('--optimize-for-size');
  }
  // The long-running commands of the image run from their bundles (scripts/bundle-commands.js).
  const bundle = BUNDLED.includes(argv[0]) ? new URL(`../dist/cli/${argv[0]}.mjs`, import.meta.url) : undefined;
  const { main } = await import(bundle !== undefined && existsSync(bundle) ? bundle.href : '../dist/cli/main.js');
  process.exitCode = await main(argv);
}
