// Converter benches, in this process: convert() time per vhost-user interface for generated VMIs
// with 1, 8, 64 and 256 interfaces and their pod annotations, and convert() of a whole ~20 KB
// KubeVirt domain. Pure CPU work; returns figures and asserts nothing about time.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { importDist, ROOT } from './lib/setup.js';
import { linearFit, median, round } from './lib/stats.js';

const COUNTS = [1, 8, 64, 256];
const BATCHES = 7;
const BATCH_MS = 150;
const SOCKET_DIR = '/var/lib/cni/usrcni/';
const CONTAINER_ID = '8f6c1d2e9a7b';
const DOMAIN_CASE = join(ROOT, 'fixtures', 'cases', 'two-vhostuser-masquerade');
const DOMAIN_TARGET_BYTES = 20 * 1024;

const hex2 = (n) => n.toString(16).padStart(2, '0');

/**
 * A VMI with `n` vhost-user interfaces on Multus networks (stock KubeVirt binding dialect) and the
 * annotations the userspace CNI and Multus write for it: hashed pod interface names, device-info.
 */
export function generateCase(n, hashedPodInterfaceName) {
  const interfaces = [{ name: 'default', masquerade: {} }];
  const networks = [{ name: 'default', pod: {} }];
  const status = [{ name: 'k8s-pod-network', ips: ['10.244.0.17'], default: true, dns: {} }];
  const selections = [];
  for (let i = 0; i < n; i++) {
    const name = `dpdk${i}`;
    const podIface = hashedPodInterfaceName(name);
    const mac = `02:00:00:00:${hex2(i >> 8)}:${hex2(i & 255)}`;
    interfaces.push({ name, binding: { name: 'vhostuser' }, macAddress: mac });
    networks.push({ name, multus: { networkName: `bench/net-${i}` } });
    selections.push({ name: `net-${i}`, namespace: 'bench', interface: podIface });
    status.push({
      name: `bench/net-${i}`,
      interface: podIface,
      mac,
      mtu: 9000,
      dns: {},
      'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode: 'server', path: `${SOCKET_DIR}${CONTAINER_ID}-${podIface}` } },
    });
  }
  const vmi = {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: { name: 'bench-vm', namespace: 'bench' },
    spec: { domain: { cpu: { cores: 4 }, devices: { interfaces } }, networks },
  };
  const annotations = new Map([
    ['k8s.v1.cni.cncf.io/network-status', JSON.stringify(status, null, 4)],
    ['k8s.v1.cni.cncf.io/networks', JSON.stringify(selections)],
    ['kubevirt.io/domain', 'bench-vm'],
  ]);
  return { vmi, annotations };
}

/**
 * µs per call: the best of BATCHES timed batches of about BATCH_MS each, after warm-up. The best
 * batch is the one least disturbed by other processes; the median is kept in the JSON detail.
 */
function timeCall(fn) {
  let perBatch = 1;
  // Size batches so each takes about BATCH_MS (the first pass is also the warm-up).
  for (let t = 0; t < BATCH_MS / 4; ) {
    perBatch *= 2;
    const start = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    t = performance.now() - start;
  }
  const samples = [];
  for (let b = 0; b < BATCHES; b++) {
    const start = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push(((performance.now() - start) * 1000) / perBatch);
  }
  return { best: Math.min(...samples), median: median(samples) };
}

/**
 * The two-interface KubeVirt case domain grown to about 20 KB with more disks of the kind KubeVirt
 * writes (each with its own target and alias), so the rewrite scans a domain of realistic size.
 */
export async function loadBigDomain() {
  const xml = await readFile(join(DOMAIN_CASE, 'domain.xml'), 'utf8');
  const disk = (i) =>
    `    <disk device="disk" type="file" model="virtio-non-transitional">\n` +
    `      <source file="/var/run/kubevirt-private/vmi-disks/data${i}/disk.img"></source>\n` +
    `      <target bus="virtio" dev="vd${String.fromCharCode(99 + (i % 24))}${i}"></target>\n` +
    `      <driver error_policy="stop" name="qemu" type="raw" cache="none" discard="unmap"></driver>\n` +
    `      <alias name="ua-data${i}"></alias>\n` +
    `    </disk>\n`;
  let extra = '';
  for (let i = 0; Buffer.byteLength(xml) + Buffer.byteLength(extra) < DOMAIN_TARGET_BYTES; i++) extra += disk(i);
  const at = xml.indexOf('    <input ');
  if (at < 0) throw new Error(`${DOMAIN_CASE}/domain.xml: no <input> element to insert the extra disks before`);
  return xml.slice(0, at) + extra + xml.slice(at);
}

async function loadDomainCase(parseDownwardApiFile) {
  const [annotationsText, vmiText] = await Promise.all([
    readFile(join(DOMAIN_CASE, 'annotations'), 'utf8'),
    readFile(join(DOMAIN_CASE, 'vmi.yaml'), 'utf8'),
  ]);
  return { annotations: parseDownwardApiFile(annotationsText), vmi: parseYaml(vmiText) };
}

export async function benchConverter({ say }) {
  const { convert, hashedPodInterfaceName, parseDownwardApiFile, rewriteDomain } = await importDist('converter/src/index.js');
  const perCount = [];
  for (const n of COUNTS) {
    const input = generateCase(n, hashedPodInterfaceName);
    const produced = convert(input).interfaces.length;
    if (produced !== n) throw new Error(`convert() resolved ${produced} of ${n} generated interfaces`);
    const { best: us, median: medianUs } = timeCall(() => convert(input));
    perCount.push({ interfaces: n, usPerCall: round(us, 1), usPerInterface: round(us / n, 2), medianUsPerCall: round(medianUs, 1) });
    say(`  ${n} interfaces: ${us.toFixed(1)} us per convert(), ${(us / n).toFixed(2)} us per interface`);
  }
  // Marginal cost from the slope (fixed costs such as settings and VMI parsing drop out), and
  // linearity: the per-interface cost from 64 to 256 over the one from 8 to 64 (1.0 = linear).
  const fit = linearFit(perCount.map((p) => p.interfaces), perCount.map((p) => p.usPerCall));
  const slope = (a, b) => (b.usPerCall - a.usPerCall) / (b.interfaces - a.interfaces);
  const [, c8, c64, c256] = perCount;

  const domainXml = await loadBigDomain();
  const domainCase = await loadDomainCase(parseDownwardApiFile);
  const resolved = convert(domainCase).interfaces;
  const rewrite = timeCall(() => convert({ ...domainCase, domainXml }));
  const rewriteOnly = timeCall(() => rewriteDomain(domainXml, resolved));
  const [rewriteUs, rewriteOnlyUs] = [rewrite.best, rewriteOnly.best];
  say(`  ${Buffer.byteLength(domainXml)} B domain: ${(rewriteUs / 1000).toFixed(3)} ms per convert(), ${(rewriteOnlyUs / 1000).toFixed(3)} ms in rewriteDomain()`);
  const figures = {
    ...Object.fromEntries(perCount.map((p) => [`convert_${p.interfaces}_us_per_interface`, p.usPerInterface])),
    convert_us_per_interface: round(fit.slope, 2),
    convert_fixed_us: round(fit.intercept, 1),
    convert_linearity: round(slope(c64, c256) / slope(c8, c64), 2),
    rewrite_20kb_ms: round(rewriteUs / 1000, 3),
    rewrite_20kb_only_ms: round(rewriteOnlyUs / 1000, 3),
  };
  const domain = { bytes: Buffer.byteLength(domainXml), interfaces: resolved.length, medianConvertUs: round(rewrite.median, 1), medianRewriteUs: round(rewriteOnly.median, 1) };
  return { figures, detail: { perCount, domain } };
}
