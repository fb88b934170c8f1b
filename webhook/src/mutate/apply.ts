// Pure. Applies the `add` ops planPatch makes to a document, in place (RFC 6902 §4.1), for
// `mutate --apply`. Deliberately small: fast-json-patch stays a test-only dependency.
import { WebhookError } from '../errors.js';
import { parsePointer } from './json-pointer.js';
import type { JsonPatchOp } from './plan.js';

function fail(path: string, why: string): never {
  throw new WebhookError('E_INTERNAL', `patch op add ${path}: ${why}`);
}

/**
 * Applies `ops` to `doc` in place and returns it. Throws when a parent is missing, as the API
 * server would ("doc is missing path").
 *
 * @example applyAddOps({ spec: {} }, [{ op: 'add', path: '/spec/volumes', value: [] }])
 */
export function applyAddOps<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  for (const { op, path, value } of ops) {
    if (op !== 'add') fail(path, `unsupported op '${String(op)}'`);
    const segments = parsePointer(path);
    const last = segments.pop();
    if (last === undefined) fail(path, 'cannot replace the whole document');
    let parent: unknown = doc;
    for (const seg of segments) {
      if (Array.isArray(parent)) parent = parent[arrayIndex(parent, seg, path, false)];
      else if (typeof parent === 'object' && parent !== null && Object.hasOwn(parent, seg)) {
        parent = (parent as Record<string, unknown>)[seg];
      } else fail(path, `missing parent '${seg}'`);
    }
    // A copy: planPatch shares (frozen) values between ops and calls, and later ops append to
    // arrays that earlier ops inserted.
    const copy = structuredClone(value);
    if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, path, true), 0, copy);
    else if (typeof parent === 'object' && parent !== null) (parent as Record<string, unknown>)[last] = copy;
    else fail(path, 'parent is not an object or array');
  }
  return doc;
}

function arrayIndex(array: unknown[], seg: string, path: string, forInsert: boolean): number {
  if (seg === '-' && forInsert) return array.length;
  if (!/^(0|[1-9][0-9]*)$/.test(seg)) fail(path, `'${seg}' is not an array index`);
  const i = Number(seg);
  if (i > array.length || (!forInsert && i === array.length)) fail(path, `index ${i} out of bounds`);
  return i;
}
