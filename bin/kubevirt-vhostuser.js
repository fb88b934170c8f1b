#!/usr/bin/env node
// Entry point of the `kubevirt-vhostuser` command. The TypeScript sources are compiled to dist/
// by `npm ci` (the `prepare` script) or `npm run build`.
// Checked before anything else is loaded, in syntax every Node runs: an older Node would fail
// somewhere inside with a message that does not say the version is the problem.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `error: E_NODE_VERSION: kubevirt-vhostuser needs Node 24 or later, this is Node ${process.versions.node}; in the project run it as \`npx kubevirt-vhostuser ...\`, which uses its own Node 24 (node_modules/.bin/node)\n`,
  );
  process.exitCode = 1;
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
