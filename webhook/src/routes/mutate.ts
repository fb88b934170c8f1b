// POST /mutate: read the review, decide, answer. Thin by design; the rules live in admission/.
// Logs exactly one line per request (uid, pod, outcome) and records the metrics.
import type { FastifyInstance } from 'fastify';
import { decideAdmission, type Decision, type DecisionContext, type Outcome } from '../admission/decide.js';
import { admissionReviewJson } from '../admission/response.js';
import { parseAdmissionReview, type AdmissionRequest } from '../admission/review.js';
import type { RequestOutcome, WebhookMetrics } from '../metrics.js';
import { toHttpError } from './http-errors.js';

function outcomeOf(d: Decision): RequestOutcome {
  if (d.kind === 'patch') return 'patched';
  if (d.kind === 'deny') return 'denied';
  return d.reason === 'forged' ? 'warned' : 'allowed';
}

export function registerMutateRoute(app: FastifyInstance, ctx: DecisionContext, metrics: WebhookMetrics, bodyLimitBytes: number): void {
  app.post('/mutate', async (request, reply) => {
    const started = performance.now();
    let req: AdmissionRequest | undefined;
    let result: Outcome | undefined;
    let outcome: RequestOutcome;
    try {
      req = parseAdmissionReview(request.body);
      result = await decideAdmission(req, ctx);
      outcome = outcomeOf(result.decision);
    } catch (err) {
      const { body, internal } = toHttpError(err, bodyLimitBytes);
      outcome = body.statusCode >= 500 ? 'error' : 'invalid';
      reply.code(body.statusCode);
      request.log[internal ? 'error' : 'warn'](
        { uid: req?.uid, outcome, code: body.code, err: internal ? err : undefined, ms: performance.now() - started },
        body.message,
      );
      record(metrics, outcome, started);
      return body;
    }
    const d = result.decision;
    if (d.kind === 'patch') metrics.podsPatched.inc();
    if ((d.kind === 'allow' || d.kind === 'deny') && d.forged !== undefined) metrics.hostPathRefused.inc({ reason: d.forged });
    record(metrics, outcome, started);
    // Only the fields that say something for this outcome: each one costs serialization time.
    const line: Record<string, unknown> = { uid: req.uid, pod: result.pod, outcome };
    if (req.operation !== 'CREATE') line['operation'] = req.operation;
    if (req.dryRun === true) line['dryRun'] = true;
    if (d.kind === 'patch') {
      line['ops'] = d.ops.length;
      line['evidence'] = result.evidence;
    } else if (d.kind === 'deny') {
      line['user'] = req.userInfo?.username;
      line['message'] = d.error.message;
    } else {
      line['reason'] = d.reason;
      if (d.warning !== undefined) {
        line['user'] = req.userInfo?.username;
        line['message'] = d.warning;
      }
    }
    line['ms'] = performance.now() - started;
    request.log.info(line, 'admission');
    return reply.type('application/json; charset=utf-8').send(admissionReviewJson(req.uid, d));
  });
}

function record(metrics: WebhookMetrics, outcome: RequestOutcome, started: number): void {
  metrics.requests.inc({ outcome });
  metrics.duration.observe({ outcome }, (performance.now() - started) / 1000);
}
