// The gRPC layer of the hook sidecar: Info plus Callbacks v1alpha1..v1alpha3, all thin adapters
// (decode -> core -> encode). Builds the server; never listens (see sidecar.ts for that).
import { HOOK_VERSIONS, SIDECAR_NAME, SUBSCRIBED_HOOK_POINTS, DEADLINE_MARGIN_MS } from './constants.js';
import { createUnaryServer, GrpcError, GrpcStatus, type CallContext, type Route, type UnaryHandler, type UnaryServer } from './grpc.js';
import type { Logger } from './log.js';
import { HookError, HookStatus, type DefineOutcome } from './on-define-domain.js';
import { HOOK_PROTOCOL, type Method } from './proto.js';

export interface HookHandlers {
  /** Rewrites a domain; rejects with HookError for an answer with a status. */
  onDefineDomain(domainXml: string, vmiJson: string, waitMs: number): Promise<DefineOutcome>;
  /** Called once the Shutdown answer has been handed to the connection. */
  onShutdown(): void;
}

export interface HookServerOptions {
  readonly handlers: HookHandlers;
  /** Configured bounded wait; each call gets less if its deadline is nearer. */
  readonly waitMs: number;
  readonly log: Logger;
}

const grpcStatus: Record<HookStatus, GrpcStatus> = {
  [HookStatus.InvalidArgument]: GrpcStatus.INVALID_ARGUMENT,
  [HookStatus.FailedPrecondition]: GrpcStatus.FAILED_PRECONDITION,
  [HookStatus.DeadlineExceeded]: GrpcStatus.DEADLINE_EXCEEDED,
  [HookStatus.Internal]: GrpcStatus.INTERNAL,
};

/** A gRPC server with every hook method registered; the caller listens and stops it. */
export function buildHookServer(opts: HookServerOptions): UnaryServer {
  const callbacks = callbackHandlers(opts);
  const routes = new Map<string, Route>();
  const add = (method: Method, handler: UnaryHandler | undefined): void => {
    if (handler === undefined) throw new Error(`no handler for ${method.path}`);
    routes.set(method.path, { method, handler });
  };
  add(HOOK_PROTOCOL.info, info);
  for (const version of HOOK_VERSIONS) for (const m of HOOK_PROTOCOL.callbacks[version]) add(m, callbacks[m.name]);
  return createUnaryServer(routes);
}

async function info(): Promise<Record<string, unknown>> {
  return { name: SIDECAR_NAME, versions: [...HOOK_VERSIONS], hookPoints: SUBSCRIBED_HOOK_POINTS };
}

function callbackHandlers(opts: HookServerOptions): Record<string, UnaryHandler> {
  const { handlers, log } = opts;
  let seq = 0;

  const onDefineDomain = async (request: Record<string, unknown>, ctx: CallContext): Promise<Record<string, unknown>> => {
    const id = ++seq;
    const started = performance.now();
    const waitMs = boundedWait(opts.waitMs, ctx.deadline);
    try {
      const domainXml = decodeUtf8(request['domainXML'] as Uint8Array, 'domainXML');
      const vmiJson = decodeUtf8(request['vmi'] as Uint8Array, 'vmi');
      const { domainXml: rewritten, vmi, interfaces } = await handlers.onDefineDomain(domainXml, vmiJson, waitMs);
      log.info('OnDefineDomain done', { call: id, vmi, interfaces, ms: elapsed(started), bytes: Buffer.byteLength(rewritten) });
      return { domainXML: Buffer.from(rewritten, 'utf8') };
    } catch (err) {
      const hookErr = err instanceof HookError ? err : new HookError(HookStatus.Internal, `unexpected failure: ${String(err)}`);
      log[hookErr.status === HookStatus.Internal ? 'error' : 'warn']('OnDefineDomain failed', {
        call: id,
        ms: elapsed(started),
        status: hookErr.status,
        ...(hookErr.code === undefined ? {} : { code: hookErr.code }),
        error: hookErr.message,
      });
      throw new GrpcError(grpcStatus[hookErr.status], hookErr.message);
    }
  };

  // Not subscribed (see constants.ts), but served for v1alpha2/3 clients: unchanged data back.
  const preCloudInitIso = async (request: Record<string, unknown>): Promise<Record<string, unknown>> => ({
    cloudInitNoCloudSource: request['cloudInitNoCloudSource'],
    cloudInitData: request['cloudInitData'],
  });

  const shutdown = async (): Promise<Record<string, unknown>> => {
    log.info('Shutdown requested by virt-launcher');
    // After the answer is written: the drain that follows lets this call finish first.
    setImmediate(() => handlers.onShutdown());
    return {};
  };

  return { OnDefineDomain: onDefineDomain, PreCloudInitIso: preCloudInitIso, Shutdown: shutdown };
}

/** The configured wait, shortened so that our answer beats the caller's deadline. */
export function boundedWait(configuredMs: number, deadline: Date | number, now: number = Date.now()): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return configuredMs;
  return Math.max(0, Math.min(configuredMs, at - now - DEADLINE_MARGIN_MS));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array, field: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new HookError(HookStatus.InvalidArgument, `request field ${field} is not valid UTF-8`);
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
