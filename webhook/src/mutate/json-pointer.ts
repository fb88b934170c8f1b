// Pure. JSON Pointer (RFC 6901) paths for the patch: the only place that builds or reads one.

/** Escapes one reference token: `~` -> `~0` first, then `/` -> `~1` (RFC 6901 §3). */
export function escapePointerSegment(segment: string | number): string {
  const s = String(segment);
  if (!s.includes('~') && !s.includes('/')) return s;
  return s.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Undoes escapePointerSegment (`~1` before `~0`, RFC 6901 §4). */
export function unescapePointerSegment(segment: string): string {
  if (!segment.includes('~')) return segment;
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

/**
 * Builds a pointer from raw segments.
 *
 * @example pointer('spec', 'containers', 0, 'volumeMounts', '-') // '/spec/containers/0/volumeMounts/-'
 */
export function pointer(...segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) out += `/${escapePointerSegment(s)}`;
  return out;
}

/** Splits a pointer into raw segments; '' is the whole document. */
export function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer '${path}' does not start with '/'`);
  return path.slice(1).split('/').map(unescapePointerSegment);
}
