// POST /mutate: read the review, decide, answer. Thin by design; the rules live in admission/.
// Logs exactly one line per request (uid, pod, outcome) and records the metrics. Synchronous
// unless the decision waits on a lookup: no promise on the common path.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decideAdmission, type Decision, type DecisionContext, type Outcome } from '../admission/decide.js';
import { admissionReviewJson } from '../admission/response.js';
import { parseAdmissionReview, type AdmissionRequest } from '../admission/review.js';
import type { RequestOutcome, WebhookMetrics } from '../metrics.js';
import { toHttpError } from './http-errors.js';

/** What the route needs: how to decide, where to count, and the body limit its errors name. */
export interface MutateRouteDeps {
  readonly decision: DecisionContext;
  readonly metrics: WebhookMetrics;
  readonly bodyLimitBytes: number;
}

function outcomeOf(d: Decision): RequestOutcome {
  if (d.kind === 'patch') return 'patched';
  if (d.kind === 'deny') return 'denied';
  return d.reason === 'forged' ? 'warned' : 'allowed';
}

/** Handler time in whole microseconds, as the log line carries it. */
function microsSince(started: number): number {
  return Math.round((performance.now() - started) * 1000);
}

export function registerMutateRoute(app: FastifyInstance, deps: MutateRouteDeps): void {
  const { decision: ctx, metrics, bodyLimitBytes } = deps;
  function record(outcome: RequestOutcome, started: number): void {
    metrics.recordRequest(outcome, (performance.now() - started) / 1000);
  }

  function fail(request: FastifyRequest, reply: FastifyReply, err: unknown, uid: string | undefined, started: number): FastifyReply {
    const { body, internal } = toHttpError(err, bodyLimitBytes);
    const outcome = body.statusCode >= 500 ? 'error' : 'invalid';
    request.log[internal ? 'error' : 'warn']({ uid, outcome, code: body.code, err: internal ? err : undefined, us: microsSince(started) }, body.message);
    record(outcome, started);
    return reply.code(body.statusCode).send(body);
  }

  function answer(request: FastifyRequest, reply: FastifyReply, req: AdmissionRequest, result: Outcome, started: number): FastifyReply {
    const d = result.decision;
    const outcome = outcomeOf(d);
    if (d.kind === 'patch') metrics.podsPatched.inc();
    if ((d.kind === 'allow' || d.kind === 'deny') && d.forged !== undefined) metrics.hostPathRefused.inc({ reason: d.forged });
    if (result.nadsUnread !== undefined) metrics.nadsUnread.inc(result.nadsUnread);
    record(outcome, started);
    // pino leaves undefined fields out, so each outcome's line has only the fields that say
    // something for it; operation only when not CREATE, dryRun only when true.
    const line = {
      uid: req.uid,
      pod: result.pod,
      outcome,
      operation: req.operation !== 'CREATE' ? req.operation : undefined,
      dryRun: req.dryRun === true ? true : undefined,
    };
    const us = microsSince(started);
    if (d.kind === 'patch') {
      request.log.info({ ...line, ops: d.ops.length, evidence: result.evidence, us }, 'admission');
    } else if (d.kind === 'deny') {
      request.log.info({ ...line, user: req.userInfo?.username, message: d.error.message, us }, 'admission');
    } else {
      const user = d.warning !== undefined ? req.userInfo?.username : undefined;
      request.log.info({ ...line, reason: d.reason, user, message: d.warning, us }, 'admission');
    }
    return reply.type('application/json; charset=utf-8').send(admissionReviewJson(req.uid, d));
  }

  app.post('/mutate', (request, reply) => {
    const started = performance.now();
    let req: AdmissionRequest | undefined;
    try {
      req = parseAdmissionReview(request.body);
      const decided = decideAdmission(req, ctx);
      if (!(decided instanceof Promise)) return answer(request, reply, req, decided, started);
      const r = req;
      decided
        .then((result) => answer(request, reply, r, result, started))
        .catch((err: unknown) => fail(request, reply, err, r.uid, started));
      return reply;
    } catch (err) {
      return fail(request, reply, err, req?.uid, started);
    }
  });
}
