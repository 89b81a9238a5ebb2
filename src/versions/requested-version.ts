import type { IncomingHttpHeaders } from 'node:http';
import semver from 'semver';
import { PorticoError } from '../errors/portico-error.ts';

/** Where a route reads the version a client asks for. */
export type VersionSource = 'path' | 'header' | 'media-type';

/**
 * The route parameter that holds a `/v2/...` prefix: a path-versioned route is also matched as
 * `/{portico_version}/<pattern>` (see compile-runtime.ts and docs/versioning.md).
 */
export const VERSION_PARAM = 'portico_version';

const PATH_VERSION = /^v(\d+(?:\.\d+){0,2})$/i;
const MEDIA_VERSION = /;\s*version\s*=\s*"?([^";,\s]+)"?/i;

/**
 * The semver range a request names, trying `from` in order; undefined when it names none.
 *
 * @throws PorticoError `route_not_found` for a prefix that is not `v<major>[.<minor>[.<patch>]]`, `bad_request`
 * for an `Accept-Version` that is not a semver range.
 * @example
 * requestedRange(['path', 'header'], { portico_version: 'v2' }, {}); // '2'
 */
export function requestedRange(
  from: readonly VersionSource[],
  params: Readonly<Record<string, string>>,
  headers: IncomingHttpHeaders,
): string | undefined {
  for (const source of from) {
    if (source === 'path') {
      const prefix = params[VERSION_PARAM];
      if (prefix === undefined) continue;
      const match = PATH_VERSION.exec(prefix);
      if (match === null) throw new PorticoError('route_not_found', `"/${prefix}" is not a version prefix`);
      return match[1] as string;
    }
    if (source === 'header') {
      const value = headers['accept-version'];
      if (typeof value !== 'string') continue;
      const text = value.trim();
      if (text === '') continue;
      return checkedRange(text, 'Accept-Version');
    }
    const accept = headers.accept;
    if (typeof accept !== 'string') continue;
    const match = MEDIA_VERSION.exec(accept);
    if (match !== null) return checkedRange(match[1] as string, 'the Accept version parameter');
  }
  return undefined;
}

/**
 * Ranges already found valid. Clients send few distinct ones, and parsing a range costs more than the rest of the
 * version stage; past the bound (clients choose ranges freely) the set starts over.
 */
const validRanges = new Set<string>();
const MAX_VALID_RANGES = 256;

function checkedRange(text: string, where: string): string {
  if (validRanges.has(text)) return text;
  if (text.length > 64 || semver.validRange(text) === null)
    throw new PorticoError('bad_request', `${where} "${text.slice(0, 64)}" is not a semver range`);
  if (validRanges.size >= MAX_VALID_RANGES) validRanges.clear();
  validRanges.add(text);
  return text;
}
