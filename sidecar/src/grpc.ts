// I/O edge: a unary-only gRPC server on node:http2, all the hook protocol needs (virt-launcher makes
// unary calls without compression: KubeVirt pkg/hooks/manager.go). gRPC over HTTP/2 for a unary
// call: a POST to /package.Service/Method with content-type application/grpc and one
// length-prefixed message (1 byte compressed flag, 4 bytes big-endian length, the protobuf bytes);
// the answer is headers, one such message and trailers carrying grpc-status, or, for a failure,
// headers alone carrying grpc-status and a percent-encoded grpc-message. grpc-timeout sets the
// call's deadline. Spelled out in the gRPC repository's doc/PROTOCOL-HTTP2.md.
import { createServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { decode, encode, WireError, type Method } from './proto.js';

/** gRPC status codes (google.rpc.Code) this server answers with. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A failed call: `code` and `message` go to the client as grpc-status and grpc-message. */
export class GrpcError extends Error {
  override name = 'GrpcError' as const;
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

export interface CallContext {
  /** When the caller gives up, in epoch milliseconds; Infinity without grpc-timeout. */
  readonly deadline: number;
}

export type UnaryHandler = (request: ReturnType<typeof decode>, ctx: CallContext) => Promise<Readonly<Record<string, unknown>>>;

export interface Route {
  readonly method: Method;
  readonly handler: UnaryHandler;
}

export interface UnaryServer {
  /** Listens on a unix socket path. */
  listen(socketPath: string): Promise<void>;
  /** Stops accepting; resolves once every call in flight has been answered and every connection is closed. */
  close(): Promise<void>;
  /** Drops every connection at once, calls in flight included. */
  destroy(): void;
}

/** gRPC's default limit on a received message (grpc-js and grpc-go servers alike). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const PREFIX_BYTES = 5;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Serves `routes`, keyed by path (`/kubevirt.hooks.info.Info/Info`). */
export function createUnaryServer(routes: ReadonlyMap<string, Route>, maxMessageBytes: number = MAX_MESSAGE_BYTES): UnaryServer {
  const server = createServer();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    // A connection that breaks is dropped with its calls; nothing else is affected.
    session.on('error', () => {});
  });
  server.on('stream', (stream, headers) => serveCall(stream, headers, routes, maxMessageBytes));
  return {
    listen: (socketPath) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // GOAWAY: no new calls on these connections; each closes once its calls are answered.
        for (const s of sessions) s.close();
      }),
    destroy: () => {
      for (const s of sessions) s.destroy();
    },
  };
}

function serveCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, routes: ReadonlyMap<string, Route>, maxMessageBytes: number): void {
  stream.on('error', () => {});
  const contentType = headers['content-type'];
  if (headers[':method'] !== 'POST' || typeof contentType !== 'string' || !/^application\/grpc(\+proto)?(;|$)/.test(contentType)) {
    stream.respond({ ':status': 415 }, { endStream: true });
    return;
  }
  let answered = false;
  let timer: NodeJS.Timeout | undefined;
  const fail = (code: GrpcStatus, message: string): void => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': percentEncode(message) }, { endStream: true });
  };
  const succeed = (body: Buffer): void => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    if (stream.destroyed || stream.headersSent) return;
    const frame = Buffer.allocUnsafe(PREFIX_BYTES);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.write(frame);
    stream.end(body);
  };
  stream.on('close', () => clearTimeout(timer));

  const path = headers[':path'] ?? '';
  const route = routes.get(path);
  if (route === undefined) return fail(GrpcStatus.UNIMPLEMENTED, `unknown method ${path}`);
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return fail(GrpcStatus.UNIMPLEMENTED, `grpc-encoding ${String(encoding)} is not supported; send identity`);
  const deadline = deadlineOf(headers['grpc-timeout']);
  if (Number.isFinite(deadline)) {
    timer = setTimeout(() => fail(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), Math.max(0, deadline - Date.now()));
  }

  const chunks: Buffer[] = [];
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    if (answered) return;
    received += chunk.length;
    if (received > maxMessageBytes + PREFIX_BYTES) {
      fail(GrpcStatus.RESOURCE_EXHAUSTED, `received message larger than max (more than ${maxMessageBytes} bytes)`);
      return;
    }
    chunks.push(chunk);
  });
  stream.on('end', () => {
    if (answered) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    chunks.length = 0;
    let request;
    try {
      request = decode(route.method.request, unframe(body, maxMessageBytes));
    } catch (err) {
      if (err instanceof GrpcError) return fail(err.code, err.message);
      const reason = err instanceof WireError ? err.message : String(err);
      return fail(GrpcStatus.INTERNAL, `cannot decode the ${route.method.name} request: ${reason}`);
    }
    route.handler(request, { deadline }).then(
      (response) => succeed(encode(route.method.response, response)),
      (err: unknown) => fail(err instanceof GrpcError ? err.code : GrpcStatus.INTERNAL, err instanceof Error ? err.message : String(err)),
    );
  });
}

/** The one message of a unary request body. */
function unframe(body: Buffer, maxMessageBytes: number): Buffer {
  if (body.length < PREFIX_BYTES) throw new GrpcError(GrpcStatus.INTERNAL, body.length === 0 ? 'the request carries no message' : 'the request message is truncated');
  if (body[0] !== 0) throw new GrpcError(GrpcStatus.INTERNAL, 'the request message is compressed, but no grpc-encoding was agreed');
  const length = body.readUInt32BE(1);
  if (length > maxMessageBytes) throw new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `received message larger than max (${length} vs. ${maxMessageBytes})`);
  if (body.length < PREFIX_BYTES + length) throw new GrpcError(GrpcStatus.INTERNAL, 'the request message is truncated');
  if (body.length > PREFIX_BYTES + length) throw new GrpcError(GrpcStatus.INTERNAL, 'more than one request message for a unary method');
  return body.subarray(PREFIX_BYTES);
}

/** grpc-timeout (`<up to 8 digits><H|M|S|m|u|n>`) as an absolute deadline; Infinity when absent or malformed. */
export function deadlineOf(timeout: string | string[] | undefined, now: number = Date.now()): number {
  const m = typeof timeout === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(timeout) : null;
  if (m === null) return Number.POSITIVE_INFINITY;
  return now + Number(m[1]) * (TIMEOUT_UNIT_MS[m[2] as string] as number);
}

/** grpc-message: UTF-8, with every byte outside printable ASCII, and `%`, as %XX. */
export function percentEncode(message: string): string {
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
