// Build step after tsc (npm run build): bundles each long-running command of the image into one
// minified file, dist/cli/<command>.mjs: the CLI entry with that command, its modules and their
// packages inlined and tree-shaken (rolldown drops the parts of zod nothing calls, which zod's
// module set-up would otherwise allocate). One file instead of a few hundred modules: less to
// read, resolve, initialise and keep in the heap (docs/benchmarks.md, "Sidecar footprint" and
// "Webhook footprint").
// - hook-sidecar: the process KubeVirt starts per VM, in 64M of memory and 200m of CPU for
//   dedicated-CPU VMs.
// - webhook: the Deployment's process. Left out, and loaded from node_modules or dist/ only if
//   ever called: @kubernetes/client-node (only when the webhook reads the API, not with
//   --offline), selfsigned (--dev-cert), the packages fastify requires for route schemas and
//   inject() (ajv, fast-json-stringify, light-my-request: the app declares no schema), and the
//   `mutate` command's module with the yaml package (`webhook --help` reads its option table).
//   Their source would otherwise stay in the heap with the rest of the bundle's.
// The other commands' lazy imports stay imports of their dist/ modules, which sit beside the
// bundles. bin/kubevirt-vhostuser.js runs a command from its bundle when it exists.
// The webhook's bundle escapes its non-ASCII characters: V8 keeps a script with any of them as two
// bytes a character, 1 MiB more for that bundle. The sidecar's keeps them: escaped, its heap ended
// 1000 OnDefineDomain calls about 2 MiB higher (30.2-30.4 against 28.0-28.6 MiB anonymous, four starts
// each), for 0.3 MiB less idle (docs/benchmarks.md, "Sidecar footprint").
// Usage: node scripts/bundle-commands.js [command ...]   (all of them by default)
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'main.js');

/**
 * Per command: the dynamic import of cli/main.js that loads it, the packages left out of its
 * bundle, the dist/ modules (relative to dist/cli) whose lazy imports stay imports, and the
 * charset its characters are written in.
 */
export const BUNDLES = {
  'hook-sidecar': { module: '../sidecar/src/cli.js', external: [], lazyModules: [], charset: 'utf8' },
  webhook: {
    module: '../webhook/src/cli.js',
    external: ['@kubernetes/client-node', 'selfsigned', 'ajv', 'fast-json-stringify', '@fastify/ajv-compiler', 'light-my-request'],
    lazyModules: ['../webhook/src/mutate-cli.js'],
    charset: 'ascii',
  },
};

/** Writes dist/cli/<command>.mjs for `command`. */
export async function bundle(command) {
  const { module, external, lazyModules, charset } = BUNDLES[command];
  const cli = dirname(entry);
  await build({
    input: entry,
    platform: 'node',
    logLevel: 'warn',
    external,
    plugins: [
      {
        name: 'other-commands-stay-modules',
        resolveDynamicImport(specifier, importer) {
          if (importer === entry) return specifier === module ? null : { id: specifier, external: true };
          // From the bundle, which lies in dist/cli, the import of a module left out.
          const id = typeof specifier === 'string' && importer !== undefined && specifier.startsWith('.') ? relative(cli, resolve(dirname(importer), specifier)) : undefined;
          return id !== undefined && lazyModules.includes(id) ? { id, external: true } : null;
        },
      },
    ],
    output: { file: join(root, 'dist', 'cli', `${command}.mjs`), format: 'esm', minify: true, charset, codeSplitting: false, comments: { legal: false } },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((c) => !(c in BUNDLES));
  if (unknown.length > 0) throw new Error(`no bundle for ${unknown.join(', ')}; expected some of ${Object.keys(BUNDLES).join(', ')}`);
  for (const command of asked.length === 0 ? Object.keys(BUNDLES) : asked) await bundle(command);
}
