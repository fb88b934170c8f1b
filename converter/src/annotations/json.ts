// Pure. Turns one annotation's JSON text into a typed value with zod, mapping every failure to a
// ConverterError that names the annotation (and the JSON path within it).

import type { z } from 'zod';
import { ConverterError } from '../errors.js';

/** `[1].device-info.type` style path of a zod issue. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** First zod issue as `path: message`, for one-line errors. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid value';
  const where = formatIssuePath(issue.path);
  return where === '' ? issue.message : `${where}: ${issue.message}`;
}

/**
 * Parses `text` as JSON and validates it against `schema`.
 *
 * @throws ConverterError E_ANNOTATION_JSON (not JSON) or E_ANNOTATION_SCHEMA (wrong shape).
 */
export function parseJsonAnnotation<T extends z.ZodType>(key: string, text: string, schema: T): z.output<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConverterError('E_ANNOTATION_JSON', `annotation ${key}: not valid JSON (${reason})`, { annotation: key }, { cause: err });
  }
  return validateAnnotation(key, raw, schema);
}

/** Validates an already decoded annotation value. */
export function validateAnnotation<T extends z.ZodType>(key: string, raw: unknown, schema: T): z.output<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConverterError('E_ANNOTATION_SCHEMA', `annotation ${key}: ${describeZodError(result.error)}`, { annotation: key });
  }
  return result.data;
}
