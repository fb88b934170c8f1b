// Build step after tsc (npm run build): bundles the `hook-sidecar` command, the one process
// KubeVirt starts per VM (in 64M of memory and 200m of CPU for dedicated-CPU VMs), into one
// minified file, dist/cli/hook-sidecar.mjs: the CLI entry with the sidecar, the converter and
// their packages inlined and tree-shaken (rolldown drops the parts of zod nothing calls, which
// zod's module set-up would otherwise allocate). One file instead of about a hundred modules:
// less to read, resolve, initialise and keep in the heap at start-up (docs/benchmarks.md,
// "Sidecar footprint"). The other commands' lazy imports stay imports of their dist/ modules,
// which sit beside it. bin/kubevirt-vhostuser.js runs `hook-sidecar` from this file when it exists.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'main.js');
const SIDECAR = '../sidecar/src/cli.js';

await build({
  input: entry,
  platform: 'node',
  logLevel: 'warn',
  plugins: [
    {
      name: 'other-commands-stay-modules',
      resolveDynamicImport: (specifier, importer) => (importer === entry && specifier !== SIDECAR ? { id: specifier, external: true } : null),
    },
  ],
  output: { file: join(root, 'dist', 'cli', 'hook-sidecar.mjs'), format: 'esm', minify: true, codeSplitting: false, comments: { legal: false } },
});
