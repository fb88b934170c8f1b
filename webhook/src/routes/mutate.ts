// POST /mutate: read the review, decide, answer. Thin by design; the rules live in admission/.
// Logs exactly one line per request (uid, pod, outcome) and records the metrics. Synchronous
// unless the decision waits on a lookup: no promise on the common path.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decideAdmission, type Decision, type DecisionContext, type Outcome } from '../admission/decide.js';
import { admissionReviewJson } from '../admission/response.js';
import { parseAdmissionReview, type AdmissionRequest } from '../admission/review.js';
import type { RequestOutcome, WebhookMetrics } from '../metrics.js';
import { createAdmissionLog } from './admission-log.js';
import { toHttpError } from './http-errors.js';

function outcomeOf(d: Decision): RequestOutcome {
  if (d.kind === 'patch') return 'patched';
  if (d.kind === 'deny') return 'denied';
  return d.reason === 'forged' ? 'warned' : 'allowed';
}

export function registerMutateRoute(
  app: FastifyInstance,
  ctx: DecisionContext,
  metrics: WebhookMetrics,
  bodyLimitBytes: number,
  logStream: { write(line: string): void },
): void {
  const log = createAdmissionLog(app.log, logStream);
  function record(outcome: RequestOutcome, started: number): void {
    metrics.recordRequest(outcome, (performance.now() - started) / 1000);
  }

  function fail(request: FastifyRequest, reply: FastifyReply, err: unknown, uid: string | undefined, started: number): FastifyReply {
    const { body, internal } = toHttpError(err, bodyLimitBytes);
    const outcome = body.statusCode >= 500 ? 'error' : 'invalid';
    request.log[internal ? 'error' : 'warn']({ uid, outcome, code: body.code, err: internal ? err : undefined, us: Math.round((performance.now() - started) * 1000) }, body.message);
    record(outcome, started);
    return reply.code(body.statusCode).send(body);
  }

  function answer(request: FastifyRequest, reply: FastifyReply, req: AdmissionRequest, result: Outcome, started: number): FastifyReply {
    const d = result.decision;
    const outcome = outcomeOf(d);
    if (d.kind === 'patch') metrics.podsPatched.inc();
    if ((d.kind === 'allow' || d.kind === 'deny') && d.forged !== undefined) metrics.hostPathRefused.inc({ reason: d.forged });
    record(outcome, started);
    const operation = req.operation !== 'CREATE' ? req.operation : undefined;
    const dryRun = req.dryRun === true;
    const us = Math.round((performance.now() - started) * 1000);
    // Only the fields that say something for this outcome; whole microseconds print fastest.
    if (d.kind === 'patch') {
      log(request.log, request.id, { uid: req.uid, pod: result.pod, outcome, operation, dryRun, ops: d.ops.length, evidence: result.evidence, us });
    } else if (d.kind === 'deny') {
      log(request.log, request.id, { uid: req.uid, pod: result.pod, outcome, operation, dryRun, user: req.userInfo?.username, message: d.error.message, us });
    } else {
      const warned = d.warning !== undefined;
      const user = warned ? req.userInfo?.username : undefined;
      log(request.log, request.id, { uid: req.uid, pod: result.pod, outcome, operation, dryRun, reason: d.reason, user, message: d.warning, us });
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
