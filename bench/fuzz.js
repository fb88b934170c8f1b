// Long fuzzing run on the built dist/ (npm run build first): arbitrary request bodies through the
// webhook's POST /mutate (inject, no socket) and arbitrary VMIs, annotation files and domains
// through the converter, with the properties of test/reliability/*-fuzz.ts, and a sample of the
// converter's output checked by libvirt. Prints `name: value` lines; exits 1 on a failed property.
// Usage: node bench/fuzz.js [--runs 100000] [--seed N] [--libvirt-samples 20]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { minimalDomain, validateDomainXml, xpathString } from '../test/helpers/libvirt.ts';
import { caseArbitrary, checkConvert, hostility } from '../test/reliability/converter-fuzz.ts';
import { bodyArbitrary, checkAdmission } from '../test/reliability/webhook-fuzz.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function fromDist(path) {
  try {
    return await import(join(ROOT, 'dist', path));
  } catch (err) {
    if (err.code === 'ERR_MODULE_NOT_FOUND') throw new Error(`dist/${path} is missing: run npm run build first`);
    throw err;
  }
}

function say(name, value) {
  process.stdout.write(`${name}: ${value}\n`);
}

function tally(list) {
  const counts = new Map();
  for (const x of list) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}=${n}`).join(' ');
}

/** Lookups over the fixture VMIs and NADs, as the webhook tests use (no API server can run here). */
async function fixtureLookups() {
  const { staticVmiSource } = await fromDist('webhook/src/k8s/sources.js');
  const dir = join(ROOT, 'fixtures/admission-reviews/api');
  const objects = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => parseYaml(readFileSync(join(dir, f), 'utf8')));
  const nads = objects.filter((o) => o.kind === 'NetworkAttachmentDefinition');
  return {
    vmi: staticVmiSource(objects.filter((o) => o.kind === 'VirtualMachineInstance')),
    nad: { getNad: async (ns, name) => nads.find((n) => n.metadata.namespace === ns && n.metadata.name === name) },
    pending: () => [],
    close: async () => {},
  };
}

/** Runs `property` `runs` times; on failure prints the counterexample and returns false. */
async function check(what, property, runs, seed) {
  const details = await fc.check(property, { numRuns: runs, seed, endOnFailure: true });
  if (!details.failed) return true;
  say(`${what}: FAILED after runs`, details.numRuns);
  say(`${what}: seed`, `${details.seed} path ${details.counterexamplePath}`);
  say(`${what}: counterexample`, JSON.stringify(details.counterexample).slice(0, 2000));
  say(`${what}: error`, String(details.errorInstance?.stack ?? details.errorInstance).slice(0, 2000));
  return false;
}

async function fuzzWebhook(runs, seed) {
  const { buildApp } = await fromDist('webhook/src/app.js');
  const { parseWebhookArgs } = await fromDist('webhook/src/config.js');
  const { createMetrics } = await fromDist('webhook/src/metrics.js');
  const app = buildApp(parseWebhookArgs(['--dev-cert', '--log-level', 'silent']), { lookups: await fixtureLookups(), metrics: createMetrics() });
  const post = async (payload) => {
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload });
    let body;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, body };
  };
  const dir = join(ROOT, 'fixtures/admission-reviews');
  const bases = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  const outcomes = [];
  const started = performance.now();
  const ok = await check('fuzz_webhook', fc.asyncProperty(bodyArbitrary(bases), async (b) => void outcomes.push(await checkAdmission(post, b))), runs, seed);
  const seconds = (performance.now() - started) / 1000;
  const healthy = (await app.inject({ url: '/healthz' })).statusCode === 200;
  await app.close();
  say('fuzz_webhook_runs', outcomes.length);
  say('fuzz_webhook_outcomes', tally(outcomes));
  say('fuzz_webhook_runs_per_s', Math.round(outcomes.length / seconds));
  say('fuzz_webhook_healthz_after', healthy ? 'ok' : 'FAILED');
  return ok && healthy;
}

/** Keeps the most hostile results and a uniform sample of the others, in bounded memory. */
function sampler(size) {
  const hostile = [];
  const reservoir = [];
  let seen = 0;
  return {
    add(r) {
      seen++;
      hostile.push(r);
      hostile.sort((a, b) => hostility(b) - hostility(a));
      const dropped = hostile.length > Math.ceil(size / 2) ? hostile.pop() : undefined;
      if (dropped === undefined || dropped === r) return;
      // Reservoir sampling of what leaves the hostile list (Vitter's algorithm R).
      if (reservoir.length < Math.floor(size / 2)) reservoir.push(dropped);
      else {
        const j = Math.floor(Math.random() * seen);
        if (j < reservoir.length) reservoir[j] = dropped;
      }
    },
    picked: () => [...hostile, ...reservoir],
  };
}

async function fuzzConverter(runs, seed, samples) {
  const api = await fromDist('converter/src/index.js');
  const domains = ['busy', 'numa', 'kubeovn-dpdk-vm', 'libvirt-net-vhostuser', 'libvirt-net-vhostuser-multiq'].map((d) => readFileSync(join(ROOT, 'fixtures/domains', `${d}.xml`), 'utf8'));
  const outcomes = [];
  const sample = sampler(samples);
  const started = performance.now();
  const run = (c) => {
    const r = checkConvert(api, c);
    outcomes.push(r.kind === 'xml' ? (r.fragment ? 'interfaces' : 'domain') : r.code);
    if (r.kind === 'xml' && r.sockets.length > 0) sample.add(r);
  };
  const ok = await check('fuzz_converter', fc.property(caseArbitrary(api, domains), run), runs, seed);
  const seconds = (performance.now() - started) / 1000;
  say('fuzz_converter_runs', outcomes.length);
  say('fuzz_converter_outcomes', tally(outcomes));
  say('fuzz_converter_runs_per_s', Math.round(outcomes.length / seconds));

  // libvirt spawns three processes per document: only the sample is checked by it.
  const picked = sample.picked();
  let valid = 0;
  for (const r of picked) {
    const doc = r.fragment ? minimalDomain(r.xml) : r.xml;
    const v = await validateDomainXml(doc);
    let readBack = true;
    for (const [alias, path] of r.sockets) readBack &&= (await xpathString(doc, `//interface[alias/@name=${JSON.stringify(alias)}]/source/@path`)) === path;
    if (v.rng && v.parser && readBack) valid++;
    else say('fuzz_converter_libvirt_rejected', `${v.output.slice(0, 1500)}\n${doc}`);
  }
  say('fuzz_converter_libvirt_validated', `${valid}/${picked.length}`);
  say('fuzz_converter_most_hostile_path', JSON.stringify(picked[0]?.sockets[0]?.[1] ?? ''));
  return ok && valid === picked.length;
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, 'libvirt-samples': { type: 'string', default: '20' } } });
  const runs = Number(values.runs);
  const samples = Number(values['libvirt-samples']);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(samples) || samples < 0) throw new Error('--runs and --libvirt-samples take positive integers');
  const seed = values.seed === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(values.seed);
  let crashes = 0;
  process.on('uncaughtException', () => crashes++);
  process.on('unhandledRejection', () => crashes++);
  say('fuzz_seed', seed);
  const webhookOk = await fuzzWebhook(runs, seed);
  const converterOk = await fuzzConverter(runs, seed, samples);
  say('fuzz_process_errors', crashes);
  say('fuzz_rss_mib', Math.round(process.memoryUsage().rss / 1048576));
  return webhookOk && converterOk && crashes === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
