// Hostile input, one named case at a time: bodies the API server never sends (deep, huge, over
// the limit, not UTF-8, not JSON) get a clear refusal and the webhook keeps serving; markup and
// '..' in socket paths, interface names, MACs and annotation files never reach libvirt as markup
// or as a path outside the socket directory.
import { request } from 'node:https';
import { afterAll, describe, expect, it } from 'vitest';
import { createDevKeyPair } from '../../webhook/src/tls.js';
import { convert, formatDownwardApiFile, parseDownwardApiFile } from '../../converter/src/index.js';
import { minimalDomain, validateDomainXml, xpathString } from '../helpers/libvirt.js';
import { figure, grantsHostPath, harness, patchOps, reviewOf, type Json } from './helpers.js';

const h = harness();
afterAll(() => h.close());
const LIMIT = 3 * 1024 * 1024;

function genuine(): Json & { request: { object: { metadata: Json; spec: Json } } } {
  return reviewOf('launcher-v1-binding') as ReturnType<typeof genuine>;
}

/** After each hostile body: the webhook still patches a genuine pod. */
async function stillServing(): Promise<void> {
  expect(grantsHostPath(patchOps((await h.post(JSON.stringify(genuine()))).body))).toBe(true);
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

describe('hostile bodies', () => {
  it.each([
    ['not JSON', () => 'hello'],
    ['an empty body', () => ''],
    ['JSON null', () => 'null'],
    ['a JSON array', () => '[]'],
    ['a JSON string', () => '"AdmissionReview"'],
    ['a number out of range', () => '1e400'],
    ['100 000 nested arrays', () => nested(100_000)],
    ['truncated JSON', () => JSON.stringify(genuine()).slice(0, 500)],
  ])('refuses %s with 400 E_REVIEW_INVALID', async (_what, body) => {
    const res = await h.post(body());
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, code: 'E_REVIEW_INVALID', message: expect.any(String) });
    await stillServing();
  });

  it.each([
    ['text/plain', 415],
    ['application/x-www-form-urlencoded', 415],
    ['application/yaml', 415],
  ])('refuses content-type %s with %i', async (type, status) => {
    const res = await h.post(JSON.stringify(genuine()), type);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ code: 'E_CONTENT_TYPE' });
  });

  it('accepts application/json with a charset parameter', async () => {
    expect(grantsHostPath(patchOps((await h.post(JSON.stringify(genuine()), 'application/json; charset=utf-8')).body))).toBe(true);
  });

  it('answers a pod carrying 100 000 nested arrays in a field it does not read', async () => {
    const review = JSON.stringify(genuine()).replace('"spec":{', `"spec":{"x-deep":${nested(100_000)},`);
    const res = await h.post(review);
    expect(res.status).toBe(200);
    expect(grantsHostPath(patchOps(res.body))).toBe(true);
  });

  it('refuses deep nesting where a label should be, naming the field', async () => {
    const review = JSON.stringify(genuine()).replace('"labels":{', `"labels":{"deep":${nested(10_000)},`);
    const res = await h.post(review);
    expect(res.status).toBe(400);
    expect((res.body as { message: string }).message).toMatch(/^request\.object\.metadata\.labels\.deep: /);
  });

  it('answers a review just under the body limit, and refuses one just over it with 413', async () => {
    const pad = (n: number) => {
      const review = genuine();
      const annotations = review.request.object.metadata['annotations'] as Json;
      annotations['pad'] = '';
      const size = Buffer.byteLength(JSON.stringify(review));
      annotations['pad'] = 'x'.repeat(n - size);
      return JSON.stringify(review);
    };
    expect(grantsHostPath(patchOps((await h.post(pad(LIMIT))).body))).toBe(true);
    const over = await h.post(pad(LIMIT + 1));
    expect(over.status).toBe(413);
    expect(over.body).toEqual({ statusCode: 413, code: 'E_BODY_TOO_LARGE', message: `body larger than ${LIMIT} bytes (--body-limit-bytes)` });
  });

  it('answers pods with 20 000 annotations, a 1 MB container name, or 5 000 containers', async () => {
    const many = genuine();
    many.request.object.metadata['annotations'] = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 'v']));
    expect((await h.post(JSON.stringify(many))).status).toBe(200);
    const long = genuine();
    (long.request.object.spec['containers'] as Json[]).push({ name: 'n'.repeat(1_000_000) });
    expect((await h.post(JSON.stringify(long))).status).toBe(200);
    const wide = genuine();
    (wide.request.object.spec['containers'] as Json[]).push(...Array.from({ length: 5_000 }, (_, i) => ({ name: `c${i}`, env: [{ name: 'X', value: 'y' }] })));
    expect(grantsHostPath(patchOps((await h.post(JSON.stringify(wide))).body))).toBe(true);
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['a truncated two-byte sequence', [0xc3, 0x28]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['0xFF', [0xff]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ])('refuses a body that is not UTF-8 (%s) with 400', async (_what, bytes) => {
    const text = JSON.stringify(genuine());
    const at = text.indexOf('virt-launcher-vhostuser-vm-');
    const body = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
    const res = await h.post(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'E_REVIEW_INVALID', message: expect.stringMatching(/UTF-8/) });
    await stillServing();
  });

  it('reads a lone surrogate escape in the username as a different user (no hostPath)', async () => {
    const text = JSON.stringify(genuine()).replace('kubevirt-controller"', 'kubevirt-controller\\ud800"');
    const res = await h.post(text);
    expect(res.status).toBe(200);
    expect(patchOps(res.body)).toEqual([]);
  });

  it('refuses a chunked body over the limit on a real HTTPS listener, and keeps serving', async () => {
    const pair = await createDevKeyPair();
    const server = harness([], { https: pair });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (server.app.server.address() as { port: number }).port;
    const send = (chunks: number) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: pair.cert, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        // No Content-Length: the server must count while it reads.
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const write = (i: number) => {
          if (i >= chunks || req.destroyed) return void req.end();
          if (req.write(chunk)) setImmediate(() => write(i + 1));
          else req.once('drain', () => write(i + 1));
        };
        write(0);
      }).catch((err: NodeJS.ErrnoException) => ({ status: -1, body: err.code ?? String(err) }));
    try {
      const over = await send(64); // 4 MiB
      // Either the 413 arrives, or the server hangs up on the excess once it has answered.
      figure('hostile: chunked 4 MiB body answered with', over.status === -1 ? over.body : over.status);
      if (over.status === -1) expect(['ECONNRESET', 'EPIPE']).toContain(over.body);
      else expect(JSON.parse(over.body)).toMatchObject({ statusCode: 413, code: 'E_BODY_TOO_LARGE' });
      const good = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca: pair.cert, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(genuine()));
      });
      expect(good).toBe(200);
    } finally {
      await server.close();
    }
  });
});

// The converter side: a VMI with one vhost-user interface `blue` and the annotations the CNI writes.
const VMI = {
  metadata: { name: 'vm', namespace: 'vms' },
  spec: { domain: { devices: { interfaces: [{ name: 'blue', vhostuser: {} }] } }, networks: [{ name: 'blue', multus: { networkName: 'nad-blue' } }] },
};

function withDeviceInfo(path: string, extra: Json = {}): Record<string, string> {
  const entry = { name: 'vms/nad-blue', interface: 'net1', 'device-info': { type: 'vhost-user', version: '1.1.0', 'vhost-user': { mode: 'server', path } }, ...extra };
  return { 'k8s.v1.cni.cncf.io/network-status': JSON.stringify([entry]) };
}

function withConfigData(socketfile: string, mappedDir?: string): Record<string, string> {
  return {
    'k8s.v1.cni.cncf.io/network-status': JSON.stringify([{ name: 'vms/nad-blue', interface: 'net1' }]),
    'userspace/configuration-data': JSON.stringify([{ ifName: 'net1', config: { iftype: 'vhostuser', vhost: { mode: 'server', socketfile } } }]),
    ...(mappedDir === undefined ? {} : { 'userspace/mapped-dir': mappedDir }),
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
  return 'no error';
}

describe('hostile converter input', () => {
  const MARKUP = "/var/lib/cni/usrcni/a'/><interface type='ethernet'/><x a='&amp;\"";

  it.each([
    ['a device-info path', withDeviceInfo(MARKUP), MARKUP],
    ['a configuration-data socketfile', withConfigData("s'/><x y='", '/var/lib/cni/usrcni'), "/var/lib/cni/usrcni/s'/><x y='"],
    ['userspace/mapped-dir', withConfigData('sock', "/var/lib/cni/<us>&'\""), "/var/lib/cni/<us>&'\"/sock"],
  ])('keeps markup in %s inside the attribute: libvirt validates it and reads the path back', async (_what, annotations, path) => {
    // The CNI's own path in the domain (not the stable name), in a directory allowed as it is.
    const config = { stableSocketPaths: false, allowedSocketDirs: ["/var/lib/cni/<us>&'\""] };
    const { xml } = convert({ annotations, vmi: VMI, config });
    const doc = minimalDomain(xml);
    expect(xml.match(/<interface /g)).toHaveLength(1);
    const v = await validateDomainXml(doc);
    expect(v.rng && v.parser, v.output).toBe(true);
    expect(await xpathString(doc, "//interface[alias/@name='ua-blue']/source/@path")).toBe(path);
    expect(await xpathString(doc, 'count(//interface)')).toBe('1');
  });

  it.each([
    ['a bare socketfile climbing out', () => withConfigData('../../../../var/run/openvswitch/db.sock', '/var/lib/cni/usrcni')],
    ['a mapped-dir climbing out', () => withConfigData('sock', '/var/lib/cni/usrcni/../../../var/run/openvswitch')],
    ['an absolute device-info path climbing out', () => withDeviceInfo('/var/lib/cni/usrcni/../../../var/run/openvswitch/db.sock')],
    ['a bare device-info path climbing out', () => withDeviceInfo('../db.sock')],
    ['a newline in the path', () => withDeviceInfo('/var/lib/cni/usrcni/a\nb')],
    ['a NUL in the path', () => withDeviceInfo('/var/lib/cni/usrcni/a\u0000b')],
    ['a path longer than sun_path', () => withDeviceInfo(`/var/lib/cni/usrcni/${'x'.repeat(100)}`)],
    ['a relative mapped-dir', () => withConfigData('sock', 'var/lib/cni')],
  ])('refuses %s with E_SOCKET_PATH', (_what, annotations) => {
    expect(codeOf(() => convert({ annotations: annotations(), vmi: VMI }))).toBe('E_SOCKET_PATH');
  });

  it('refuses markup in an interface name (E_VMI_INVALID) and in a MAC (E_MAC)', () => {
    const name = "blue'/><x a='";
    const named = { ...VMI, spec: { domain: { devices: { interfaces: [{ name, vhostuser: {} }] } }, networks: [{ name, multus: { networkName: 'nad-blue' } }] } };
    expect(codeOf(() => convert({ annotations: withDeviceInfo('/var/lib/cni/usrcni/s'), vmi: named }))).toBe('E_VMI_INVALID');
    const mac = { ...VMI, spec: { ...VMI.spec, domain: { devices: { interfaces: [{ name: 'blue', vhostuser: {}, macAddress: "02:00:00:00:00:01'/><x a='" }] } } } };
    expect(codeOf(() => convert({ annotations: withDeviceInfo('/var/lib/cni/usrcni/s'), vmi: mac }))).toBe('E_MAC');
    expect(codeOf(() => convert({ annotations: withDeviceInfo('/var/lib/cni/usrcni/s', { mac: "02:00:00:00:00:01'/>" }), vmi: VMI }))).toBe('E_MAC');
  });

  it('reads an annotation value that tries to add a line to the downward-API file as one value', () => {
    const value = 'v"\nuserspace/mapped-dir="/var/run/openvswitch';
    const parsed = parseDownwardApiFile(formatDownwardApiFile({ 'example.com/note': value }));
    expect([...parsed]).toEqual([['example.com/note', value]]);
  });

  it('refuses a domain with a DOCTYPE (entity expansion, external entities) before reading it', () => {
    const laughs = "<!DOCTYPE domain [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><domain type='kvm'><name>&b;</name><devices/></domain>";
    const xxe = "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain type='kvm'><name>&x;</name><devices/></domain>";
    for (const domainXml of [laughs, xxe]) expect(codeOf(() => convert({ annotations: withDeviceInfo('/var/lib/cni/usrcni/s'), vmi: VMI, domainXml }))).toBe('E_DOMAIN_XML');
  });

  it('answers a domain nested 100 000 deep or 5 MB long without a stack overflow', () => {
    const deep = `<domain type='kvm'><name>x</name><devices>${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</devices></domain>`;
    const long = `<domain type='kvm'><name>x</name><devices><!-- ${'x'.repeat(5_000_000)} --></devices></domain>`;
    for (const domainXml of [deep, long]) {
      const code = codeOf(() => convert({ annotations: withDeviceInfo('/var/lib/cni/usrcni/s'), vmi: VMI, domainXml }));
      expect(['no error', 'E_DOMAIN_XML']).toContain(code);
    }
  });
});
