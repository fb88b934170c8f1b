// The error catalogue is what the code does: each code is answered as its row says, by the HTTP
// layer, the AdmissionReview response or the CLI's exit status.
import { describe, expect, it } from 'vitest';
import { reportError } from '../../cli/subcommand.js';
import { toAdmissionReview } from '../../webhook/src/admission/response.js';
import { ERROR_CATALOGUE, WebhookError, type ErrorRow, type WebhookErrorCode } from '../../webhook/src/errors.js';
import { toHttpError } from '../../webhook/src/routes/http-errors.js';

const rows = (kind: ErrorRow['answer']['kind']) =>
  (Object.entries(ERROR_CATALOGUE) as [WebhookErrorCode, ErrorRow][]).filter(([, row]) => row.answer.kind === kind).map(([code, row]) => [code, row.answer.status] as const);

describe('ERROR_CATALOGUE', () => {
  it.each(rows('http'))('%s is answered with HTTP %i and its message', (code, status) => {
    expect(toHttpError(new WebhookError(code, 'what went wrong'), 1024)).toEqual({ body: { statusCode: status, code, message: 'what went wrong' }, internal: false });
  });

  it.each(rows('denial'))('%s is a denial with status.code %i', (code, status) => {
    const { response } = toAdmissionReview('uid-1', { kind: 'deny', error: new WebhookError(code, 'what went wrong') });
    expect(response).toMatchObject({ uid: 'uid-1', allowed: false, status: { status: 'Failure', code: status, message: 'what went wrong' } });
  });

  it.each([...rows('denial'), ...rows('exit')])('%s reaching the HTTP layer is an internal error, its message withheld', (code) => {
    expect(toHttpError(new WebhookError(code, 'secret detail'), 1024)).toEqual({ body: { statusCode: 500, code: 'E_INTERNAL', message: 'internal error; see the webhook log' }, internal: true });
  });

  it.each(rows('exit'))('%s makes the CLI exit %i with one error line', (code, status) => {
    const lines: string[] = [];
    expect(reportError(new WebhookError(code, 'what\nwent wrong'), (l) => lines.push(l))).toBe(status);
    expect(lines).toEqual([`error: ${code}: what went wrong\n`]);
  });
});
