// Test helper: catches the ConverterError a call must throw, failing on anything else.
import { ConverterError } from '../../converter/src/errors.js';

/** The message without its ` (hint: ...)` tail, so that snapshots pin what is wrong, not the advice. */
export function withoutHint(err: ConverterError): string {
  return err.message.replace(/ \(hint:.*\)$/, '');
}

/** `{ code, message }` of the ConverterError `fn` throws. */
export function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConverterError) return { code: err.code, message: withoutHint(err) };
    throw err;
  }
  throw new Error('expected a ConverterError');
}

/** The ConverterError `promise` rejects with. */
export async function rejectionOf(promise: Promise<unknown>): Promise<ConverterError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConverterError) return err;
    throw err;
  }
  throw new Error('expected a ConverterError');
}
