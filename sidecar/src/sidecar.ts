// I/O edge: runs the hook sidecar on a unix socket: claims the socket path, serves, and on stop
// (Shutdown call or a signal) drains in-flight calls and removes the socket file.
import { DRAIN_TIMEOUT_MS } from './constants.js';
import type { UnaryServer } from './grpc.js';
import type { Logger } from './log.js';
import { onDefineDomain, type OnDefineDomainDeps } from './on-define-domain.js';
import { buildHookServer } from './server.js';
import { prepareSocketPath, removeSocket } from './socket.js';

export interface SidecarConfig {
  readonly socketPath: string;
  /** Bounded wait for CNI annotations per OnDefineDomain call. */
  readonly waitMs: number;
  /** Binding plugin names whose interfaces we rewrite. */
  readonly bindingNames: readonly string[];
}

export interface SidecarDeps {
  readonly log: Logger;
  /** The converter, bound to the podinfo directory. */
  readonly rewrite: OnDefineDomainDeps['rewrite'];
}

export interface RunningSidecar {
  readonly socketPath: string;
  /** Resolves with the stop reason once the server is down and the socket removed. */
  readonly stopped: Promise<string>;
  /** Stops serving; idempotent (later calls wait for the first). */
  stop(reason: string): Promise<void>;
}

/**
 * @example const sidecar = await startSidecar({ socketPath, waitMs: 30_000, bindingNames: ['vhostuser'] }, { log, rewrite });
 */
export async function startSidecar(config: SidecarConfig, deps: SidecarDeps): Promise<RunningSidecar> {
  const { log } = deps;
  const { socketPath } = config;
  if ((await prepareSocketPath(socketPath)) === 'replaced-stale') {
    log.warn('replaced a stale socket left by a previous run', { socket: socketPath });
  }
  let resolveStopped: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<void> | undefined;

  const server = buildHookServer({
    waitMs: config.waitMs,
    log,
    handlers: {
      onDefineDomain: (domainXml, vmiJson, waitMs) =>
        onDefineDomain(domainXml, vmiJson, { bindingNames: config.bindingNames, rewrite: deps.rewrite }, waitMs),
      onShutdown: () => void stop('Shutdown call'),
    },
  });

  // Never rejects: it runs from signal handlers and the Shutdown call, where a rejection would
  // surface as an unhandled error instead of a clean exit.
  const stop = (reason: string): Promise<void> =>
    (stopping ??= (async () => {
      log.info('stopping', { reason });
      await drain(server);
      await removeSocket(socketPath).catch((err: unknown) => log.warn('could not remove the socket', { socket: socketPath, error: err }));
      log.info('stopped', { reason, socket: socketPath });
      resolveStopped(reason);
    })());

  await server.listen(socketPath);
  log.info('serving KubeVirt hook callbacks', { socket: socketPath, bindingNames: config.bindingNames, waitMs: config.waitMs });
  return { socketPath, stopped, stop };
}

/** Lets in-flight calls finish (a Shutdown answer among them), then cancels stragglers. */
async function drain(server: UnaryServer): Promise<void> {
  const force = setTimeout(() => server.destroy(), DRAIN_TIMEOUT_MS);
  await server.close();
  clearTimeout(force);
}
