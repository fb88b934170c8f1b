#!/usr/bin/env node
// Entry point of the `kubevirt-vhostuser` command. The TypeScript sources are compiled to dist/
// by `npm ci` (the `prepare` script) or `npm run build`, which also bundles `hook-sidecar` into
// dist/cli/hook-sidecar.mjs (scripts/bundle-sidecar.js): KubeVirt starts that command once per VM
// in 64M of memory, and one file costs it less to load than the modules. Without the bundle the
// command runs from the modules, the same code.
// The Node version is checked before anything else is loaded, in syntax every Node runs: an older
// Node would fail somewhere inside with a message that does not say the version is the problem.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

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
  const bundle = new URL('../dist/cli/hook-sidecar.mjs', import.meta.url);
  const { main } = await import(argv[0] === 'hook-sidecar' && existsSync(bundle) ? bundle.href : '../dist/cli/main.js');
  process.exitCode = await main(argv);
}
