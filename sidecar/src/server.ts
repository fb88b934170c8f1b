// The gRPC layer of the hook sidecar: Info plus Callbacks v1alpha1..v1alpha3, all thin adapters
// (decode -> core -> encode). Builds the server; never listens (see sidecar.ts for that).
import { Server, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HOOK_VERSIONS, SIDECAR_NAME, SUBSCRIBED_HOOK_POINTS, DEADLINE_MARGIN_MS } from './constants.js';
import type { Logger } from './log.js';
import { HookError, HookStatus, type DefineOutcome } from './on-define-domain.js';
import type { HookServices } from './proto.js';

export interface HookHandlers {
  /** Rewrites a domain; rejects with HookError for an answer with a status. */
  onDefineDomain(domainXml: string, vmiJson: string, waitMs: number): Promise<DefineOutcome>;
  /** Called once the Shutdown answer has been handed to gRPC. */
  onShutdown(): void;
}

export interface HookServerOptions {
  readonly services: HookServices;
  readonly handlers: HookHandlers;
  /** Configured bounded wait; each call gets less if its deadline is nearer. */
  readonly waitMs: number;
  readonly log: Logger;
}

interface OnDefineDomainParams {
  domainXML: Buffer;
  vmi: Buffer;
}
interface PreCloudInitIsoParams {
  cloudInitNoCloudSource: Buffer;
  vmi: Buffer;
  cloudInitData: Buffer;
}

const grpcStatus: Record<HookStatus, status> = {
  [HookStatus.InvalidArgument]: status.INVALID_ARGUMENT,
  [HookStatus.FailedPrecondition]: status.FAILED_PRECONDITION,
  [HookStatus.DeadlineExceeded]: status.DEADLINE_EXCEEDED,
  [HookStatus.Internal]: status.INTERNAL,
};

/** A gRPC server with every hook service registered; the caller binds and stops it. */
export function buildHookServer(opts: HookServerOptions): Server {
  const server = new Server();
  server.addService(opts.services.info, { Info: info });
  const callbacks = callbackHandlers(opts);
  for (const version of HOOK_VERSIONS) server.addService(opts.services.callbacks[version], callbacks);
  return server;
}

function info(_call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>): void {
  done(null, { name: SIDECAR_NAME, versions: [...HOOK_VERSIONS], hookPoints: SUBSCRIBED_HOOK_POINTS });
}

function callbackHandlers(opts: HookServerOptions): UntypedServiceImplementation {
  const { handlers, log } = opts;
  let seq = 0;

  const onDefineDomain = (call: ServerUnaryCall<OnDefineDomainParams, unknown>, done: sendUnaryData<unknown>): void => {
    const id = ++seq;
    const started = performance.now();
    const waitMs = boundedWait(opts.waitMs, call.getDeadline());
    // Everything, decoding included, runs inside the promise chain: no request can throw out.
    Promise.resolve()
      .then(() => {
        const domainXml = decodeUtf8(call.request.domainXML, 'domainXML');
        const vmiJson = decodeUtf8(call.request.vmi, 'vmi');
        return handlers.onDefineDomain(domainXml, vmiJson, waitMs);
      })
      .then(
        (outcome) => {
          const { domainXml, vmi, interfaces } = outcome;
          log.info('OnDefineDomain done', { call: id, vmi, interfaces, ms: elapsed(started), bytes: Buffer.byteLength(domainXml) });
          done(null, { domainXML: Buffer.from(domainXml, 'utf8') });
        },
        (err: unknown) => {
          const hookErr = err instanceof HookError ? err : new HookError(HookStatus.Internal, `unexpected failure: ${String(err)}`);
          log[hookErr.status === HookStatus.Internal ? 'error' : 'warn']('OnDefineDomain failed', {
            call: id,
            ms: elapsed(started),
            status: hookErr.status,
            ...(hookErr.code === undefined ? {} : { code: hookErr.code }),
            error: hookErr.message,
          });
          done({ code: grpcStatus[hookErr.status], details: hookErr.message });
        },
      );
  };

  // Not subscribed (see constants.ts), but served for v1alpha2/3 clients: unchanged data back.
  const preCloudInitIso = (call: ServerUnaryCall<PreCloudInitIsoParams, unknown>, done: sendUnaryData<unknown>): void => {
    done(null, { cloudInitNoCloudSource: call.request.cloudInitNoCloudSource, cloudInitData: call.request.cloudInitData });
  };

  const shutdown = (_call: ServerUnaryCall<unknown, unknown>, done: sendUnaryData<unknown>): void => {
    log.info('Shutdown requested by virt-launcher');
    done(null, {});
    handlers.onShutdown();
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
