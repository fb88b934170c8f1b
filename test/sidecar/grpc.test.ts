// The sidecar's gRPC server (sidecar/src/grpc.ts on node:http2) against requests no well-behaved
// client sends, over its real unix socket with a raw HTTP/2 client: each gets a gRPC status (or
// 415 for what is not gRPC at all), and the server serves the next call as before.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadlineOf, percentEncode } from '../../sidecar/src/grpc.js';
import { converterRewrite } from '../../sidecar/src/rewrite.js';
import { defineRequest, domainFixture, resultXml, sidecarCase, startTestSidecar, type TestSidecar } from './helpers.js';

const { podinfo, vmiJson } = sidecarCase('binding-hashed');
const domain = domainFixture('kubevirt-hooks');
const DEFINE = '/kubevirt.hooks.v1alpha3.Callbacks/OnDefineDomain';

const frame = (message: Buffer, flag = 0): Buffer => {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
};

interface Answer {
  status: number;
  grpcStatus?: string;
  grpcMessage?: string;
  body: Buffer;
}

/** One raw request; the gRPC status comes from the trailers, or from the headers of a trailers-only answer. */
function rawCall(session: ClientHttp2Session, headers: Record<string, string>, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': DEFINE, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    req.on('response', (h) => (head = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('close', () => {
      const pick = (k: string): string | undefined => (trailers[k] ?? head[k]) as string | undefined;
      const grpcStatus = pick('grpc-status');
      const grpcMessage = pick('grpc-message');
      resolve({
        status: Number(head[':status']),
        ...(grpcStatus === undefined ? {} : { grpcStatus }),
        ...(grpcMessage === undefined ? {} : { grpcMessage: decodeURIComponent(grpcMessage) }),
        body: Buffer.concat(chunks),
      });
    });
    req.end(body);
  });
}

describe('hook sidecar gRPC server: requests no client should send', () => {
  let t: TestSidecar;
  let session: ClientHttp2Session;
  let good: string;
  const defineBytes = (): Buffer => {
    const { domainXML, vmi } = defineRequest(domain, vmiJson);
    // OnDefineDomainParams: field 1 and field 2, both bytes, lengths as varints.
    const field = (no: number, b: Buffer): Buffer => {
      const len: number[] = [];
      for (let n = b.length; ; n >>>= 7) {
        if (n < 0x80) {
          len.push(n);
          break;
        }
        len.push((n & 0x7f) | 0x80);
      }
      return Buffer.concat([Buffer.from([(no << 3) | 2, ...len]), b]);
    };
    return Buffer.concat([field(1, domainXML), field(2, vmi)]);
  };
  beforeAll(async () => {
    t = await startTestSidecar({ rewrite: converterRewrite(podinfo, { links: 'where-visible' }), waitMs: 200 });
    good = resultXml(await t.onDefineDomain(defineRequest(domain, vmiJson)));
    session = connect('http://localhost', { path: t.socketPath } as never);
  });
  afterAll(async () => {
    session?.close();
    await t.close();
  });

  it('answers a well-formed raw call as the grpc-js client gets it', async () => {
    const got = await rawCall(session, {}, frame(defineBytes()));
    expect([got.status, got.grpcStatus]).toEqual([200, '0']);
    expect(got.body.readUInt32BE(1)).toBe(got.body.length - 5);
  });

  it.each([
    ['a content-type that is not gRPC', { 'content-type': 'application/json' }, () => frame(Buffer.alloc(0)), { status: 415 }],
    ['an unknown method', { ':path': '/kubevirt.hooks.v1alpha9.Callbacks/OnDefineDomain' }, () => frame(Buffer.alloc(0)), { grpcStatus: '12', grpcMessage: 'unknown method /kubevirt.hooks.v1alpha9.Callbacks/OnDefineDomain' }],
    ['a grpc-encoding the server never offered', { 'grpc-encoding': 'gzip' }, () => frame(Buffer.alloc(0), 1), { grpcStatus: '12' }],
    ['a compressed message without grpc-encoding', {}, () => frame(Buffer.alloc(3), 1), { grpcStatus: '13', grpcMessage: 'the request message is compressed, but no grpc-encoding was agreed' }],
    ['no message at all', {}, () => Buffer.alloc(0), { grpcStatus: '13', grpcMessage: 'the request carries no message' }],
    ['a prefix longer than its message', {}, () => frame(Buffer.alloc(10)).subarray(0, 8), { grpcStatus: '13', grpcMessage: 'the request message is truncated' }],
    ['two messages on a unary method', {}, () => Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]), { grpcStatus: '13', grpcMessage: 'more than one request message for a unary method' }],
    ['a message that is not protobuf', {}, () => frame(Buffer.from([0x0a, 0x7f, 0x61])), { grpcStatus: '13', grpcMessage: expect.stringMatching(/^cannot decode the OnDefineDomain request: kubevirt\.hooks\.v1alpha3\.OnDefineDomainParams: field 1 runs/) }],
    ['a prefix announcing more than 4 MiB', {}, () => Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]), { grpcStatus: '8' }],
    ['a message of more than 4 MiB', {}, () => frame(Buffer.alloc(4 * 1024 * 1024 + 1)), { grpcStatus: '8' }],
  ] as const)('answers %s with its status, then serves the next call', async (_what, headers, body, expected) => {
    const got = await rawCall(session, headers as Record<string, string>, body());
    expect(got).toMatchObject(expected);
    expect(resultXml(await t.onDefineDomain(defineRequest(domain, vmiJson)))).toBe(good);
  });

  it('answers DEADLINE_EXCEEDED itself once grpc-timeout has passed, whatever the handler does later', async () => {
    const got = await rawCall(session, { 'grpc-timeout': '1n' }, frame(defineBytes()));
    expect([got.grpcStatus, got.grpcMessage]).toEqual(['4', 'Deadline exceeded']);
  });

  it('survives a client that resets its stream mid-message', async () => {
    const req = session.request({ ':method': 'POST', ':path': DEFINE, 'content-type': 'application/grpc' });
    req.on('error', () => {});
    req.write(frame(Buffer.alloc(100_000)).subarray(0, 50_000));
    req.close(constants.NGHTTP2_CANCEL);
    expect(resultXml(await t.onDefineDomain(defineRequest(domain, vmiJson)))).toBe(good);
  });
});

describe('grpc-timeout and grpc-message', () => {
  it.each([
    ['100m', 1100],
    ['2S', 3000],
    ['1M', 61_000],
    ['1H', 3_601_000],
    ['5000u', 1005],
    ['99999999n', 1099.999999],
  ])('reads grpc-timeout %s as a deadline', (value, at) => {
    expect(deadlineOf(value, 1000)).toBeCloseTo(at, 5);
  });

  it.each([undefined, '', '100', '123456789m', '-1S', '1.5S', '10x'])('has no deadline for grpc-timeout %j', (value) => {
    expect(deadlineOf(value, 1000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('percent-encodes every byte outside printable ASCII, and %', () => {
    expect(percentEncode('VMI ns/é: 100% \n')).toBe('VMI ns/%C3%A9: 100%25 %0A');
  });
});
