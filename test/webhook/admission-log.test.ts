// The hand-built admission log line against pino itself: for any strings (quotes, control
// characters, lone surrogates, any Unicode) it must be the very line pino writes for the same
// fields, apart from the clock.
import fc from 'fast-check';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createAdmissionLog, type AdmissionLine } from '../../webhook/src/routes/admission-log.js';

function loggers(level = 'info'): { root: FastifyBaseLogger; lines: string[] } {
  const lines: string[] = [];
  const app = Fastify({ logger: { level, stream: { write: (line: string) => void lines.push(line) } } });
  return { root: app.log, lines };
}

/** What pino writes for the same line: undefined fields left out by pino itself. */
function pinoLine(l: AdmissionLine, reqId: string): string {
  const { root, lines } = loggers();
  const { uid, pod, outcome, operation, dryRun, ops, evidence, reason, user, message, us } = l;
  root.child({ reqId }).info({ uid, pod, outcome, operation, dryRun: dryRun === true ? true : undefined, ops, evidence, reason, user, message, us }, 'admission');
  return lines[0] ?? '';
}

function ourLine(l: AdmissionLine, reqId: string): string {
  const { root, lines } = loggers();
  createAdmissionLog(root, { write: (line) => void lines.push(line) })(root.child({ reqId }), reqId, l);
  return lines[0] ?? '';
}

const withoutTime = (line: string) => line.replace(/"time":\d+,/, '');

describe('admission log line', () => {
  it('is pino\'s line for awkward strings', () => {
    const line: AdmissionLine = {
      uid: 'a"b\\c\n\t\u0000\u001f\u2028é😀\ud800',
      pod: 'ns/"pod"\r\nname',
      outcome: 'denied',
      operation: 'UPDATE',
      dryRun: true,
      user: 'system:serviceaccount:x:"y"',
      message: 'kubevirt-vhostuser: pod "x"\n',
      us: 12,
    };
    const ours = ourLine(line, 'req-1');
    expect(withoutTime(ours)).toBe(withoutTime(pinoLine(line, 'req-1')));
    expect(JSON.parse(ours)).toMatchObject({ level: 30, pid: process.pid, uid: line.uid, pod: line.pod, msg: 'admission' });
    expect(ours.endsWith('}\n')).toBe(true);
  });

  it('is pino\'s line for any field values', () => {
    const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const text = fc.string({ unit: 'binary' });
    const arb = fc.record({
      uid: text,
      pod: optional(text),
      outcome: fc.constantFrom('patched', 'allowed', 'warned', 'denied'),
      operation: optional(text),
      dryRun: fc.boolean(),
      ops: optional(fc.nat()),
      evidence: optional(text),
      reason: optional(text),
      user: fc.oneof(optional(text), fc.constant(null)),
      message: optional(text),
      us: fc.nat(),
    });
    fc.assert(
      fc.property(arb, text, (l, reqId) => {
        expect(withoutTime(ourLine(l, reqId))).toBe(withoutTime(pinoLine(l, reqId)));
      }),
    );
  });

  it('writes nothing when the request logger is above info', () => {
    const { root, lines } = loggers('warn');
    createAdmissionLog(root, { write: (line) => void lines.push(line) })(root.child({}), 'req-1', { uid: 'u', pod: 'p', outcome: 'patched', us: 1 });
    expect(lines).toEqual([]);
  });
});
