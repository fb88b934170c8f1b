// The JSON body parser, under two limits: one body (--body-limit-bytes, 413) and all the bodies
// of requests not answered yet together (--max-inflight-body-bytes, 503). Anyone on the pod
// network can open connections and start uploads, and without the second limit a hundred
// unfinished 3 MiB uploads would hold 300 MiB, past the chart's memory limit: an OOM-killed
// webhook with failurePolicy Fail stops every VM start in the cluster.
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WebhookError } from '../errors.js';
import type { BodyRefusal } from '../metrics.js';

export interface BodyLimits {
  /** Largest single body (--body-limit-bytes). */
  readonly bodyLimitBytes: number;
  /** Body bytes held at once over all requests not answered yet (--max-inflight-body-bytes). */
  readonly maxInflightBodyBytes: number;
  /**
   * A body still arriving after this long may be cut to make room for a new one. The API server
   * writes a review at once, so an upload this slow is not the API server, and an attacker who
   * stalls uploads cannot keep the budget from the requests that matter.
   */
  readonly evictAfterMs: number;
}

/** One request's share of the budget, from its first body byte until it is answered. */
export interface BodyHold {
  bytes: number;
  readonly startedAt: number;
  /** True until the whole body is in; only such bodies may be cut. */
  receiving: boolean;
  /** Cuts the upload: answers 503 and closes the connection. */
  readonly evict: () => void;
  /** Called once, when the hold is released. */
  readonly onRelease: (() => void) | undefined;
  released: boolean;
}

/**
 * Bodies up to this size may use the budget's reserve. Launcher pod reviews are a few tens of
 * KiB, so the uploads that fill the budget are the large ones, and they must not crowd out the
 * reviews the cluster is waiting for.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * The shared budget. Pure bookkeeping (no I/O): holds are kept in arrival order, so the oldest
 * unfinished uploads are the first to be cut when room is needed. A body over SMALL_BODY_BYTES
 * may only fill the budget up to `capBytes - reserveBytes`; the reserve is for small bodies.
 */
export class BodyBudget {
  private heldBytes = 0;
  private readonly holds = new Set<BodyHold>();

  constructor(
    readonly capBytes: number,
    readonly reserveBytes: number,
    private readonly evictAfterMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes held right now. */
  get held(): number {
    return this.heldBytes;
  }

  open(evict: () => void, onRelease?: () => void): BodyHold {
    const hold: BodyHold = { bytes: 0, startedAt: this.now(), receiving: true, evict, onRelease, released: false };
    this.holds.add(hold);
    return hold;
  }

  /**
   * Adds `bytes` to `hold` if they fit, cutting uploads older than evictAfterMs (oldest first)
   * when they do not. False when they cannot fit: the caller refuses its request.
   */
  take(hold: BodyHold, bytes: number): boolean {
    if (hold.released) return false;
    const limit = hold.bytes + bytes > SMALL_BODY_BYTES ? this.capBytes - this.reserveBytes : this.capBytes;
    if (this.heldBytes + bytes > limit) this.evictStale(hold, this.heldBytes + bytes - limit);
    if (this.heldBytes + bytes > limit) return false;
    this.heldBytes += bytes;
    hold.bytes += bytes;
    return true;
  }

  release(hold: BodyHold): void {
    if (hold.released) return;
    hold.released = true;
    this.heldBytes -= hold.bytes;
    hold.bytes = 0;
    this.holds.delete(hold);
    hold.onRelease?.();
  }

  private evictStale(except: BodyHold, needed: number): void {
    const oldest = this.now() - this.evictAfterMs;
    let freed = 0;
    for (const h of this.holds) {
      if (freed >= needed) break;
      if (h.startedAt > oldest) break; // arrival order: every later hold is younger still
      if (h === except || !h.receiving || h.bytes === 0) continue;
      freed += h.bytes;
      this.release(h);
      h.evict();
    }
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    bodyHold: BodyHold | null;
  }
  interface FastifyInstance {
    /** The body budget, so that what it holds can be read (tests wait on it, not on the clock). */
    bodyBudget: BodyBudget;
  }
}

const overloaded = (limits: BodyLimits, why: string) =>
  new WebhookError('E_OVERLOADED', `${why}: request bodies in flight would exceed ${limits.maxInflightBodyBytes} bytes (--max-inflight-body-bytes); try again`);
const tooLarge = (limits: BodyLimits) => new WebhookError('E_BODY_TOO_LARGE', `body larger than ${limits.bodyLimitBytes} bytes (--body-limit-bytes)`);

/**
 * Replaces fastify's JSON parser with one that counts every body against `budget` and hands
 * the bytes to `parse` (UTF-8 and JSON checks) once complete. fastify closes the connection
 * after any parser error, so a refused upload stops there instead of being read and dropped.
 * `onRefused` is told each body refused for its size or for the budget (metrics).
 */
export function registerJsonBody(
  app: FastifyInstance,
  limits: BodyLimits,
  parse: (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => void,
  onRefused: (reason: BodyRefusal) => void = () => {},
): BodyBudget {
  // A quarter for small bodies, as long as the largest body still fits in the rest.
  const reserve = Math.max(0, Math.min(Math.floor(limits.maxInflightBodyBytes / 4), limits.maxInflightBodyBytes - limits.bodyLimitBytes));
  const budget = new BodyBudget(limits.maxInflightBodyBytes, reserve, limits.evictAfterMs);
  app.decorate('bodyBudget', budget);
  app.decorateRequest('bodyHold', null);
  // Answered (or failed while answering): the parsed review is garbage now, its bytes free again.
  app.addHook('onResponse', (request, _reply, done) => {
    if (request.bodyHold !== null) budget.release(request.bodyHold);
    done();
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request, payload, done) => {
    const header = request.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared > limits.bodyLimitBytes) {
      onRefused('too_large');
      done(tooLarge(limits), undefined);
      return;
    }
    let finished = false;
    const chunks: Buffer[] = [];
    let received = 0;
    // A connection that dies mid-request (client gone, request timeout) answers nothing, so
    // onResponse never runs: its close frees the hold instead.
    const socket: Socket | undefined = request.raw.socket ?? undefined;
    const onSocketClose = () => budget.release(hold);
    const finish = (err: Error | null, body?: Buffer) => {
      if (finished) return;
      finished = true;
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      hold.receiving = false;
      if (err !== null) {
        // Nothing of this body is kept; the 503 or 413 closes the connection.
        chunks.length = 0;
        budget.release(hold);
        done(err, undefined);
      } else parse(request, body as Buffer, done);
    };
    const refuse = (reason: BodyRefusal, err: WebhookError) => {
      if (finished) return;
      onRefused(reason);
      finish(err);
    };
    const hold = budget.open(
      () => refuse('evicted', overloaded(limits, `body unfinished after ${limits.evictAfterMs} ms while the budget was full; cut`)),
      // The socket listener goes with the hold: a keep-alive connection carries many requests.
      () => socket?.removeListener('close', onSocketClose),
    );
    request.bodyHold = hold;
    socket?.once('close', onSocketClose);
    if (declared !== undefined && !budget.take(hold, declared)) {
      refuse('budget', overloaded(limits, `body of ${declared} bytes refused`));
      return;
    }
    function onData(chunk: Buffer) {
      received += chunk.length;
      if (received > limits.bodyLimitBytes) return refuse('too_large', tooLarge(limits));
      if (declared !== undefined && received > declared) {
        return finish(new WebhookError('E_REVIEW_INVALID', `body longer than its Content-Length of ${declared} bytes`));
      }
      // Without a Content-Length (chunked), the body is counted as it arrives.
      if (declared === undefined && !budget.take(hold, chunk.length)) return refuse('budget', overloaded(limits, 'chunked body refused'));
      chunks.push(chunk);
    }
    function onEnd() {
      if (declared !== undefined && received !== declared) {
        return finish(new WebhookError('E_REVIEW_INVALID', `body of ${received} bytes, not its Content-Length of ${declared}`));
      }
      // Always a copy: a single chunk may be a view of a buffer the socket reuses.
      finish(null, Buffer.concat(chunks, received));
    }
    function onError(err: Error) {
      finish(new WebhookError('E_REVIEW_INVALID', `body not received: ${err.message}`));
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  });
  return budget;
}
