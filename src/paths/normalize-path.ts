/** A request target split into its normalised path and its untouched query. */
export interface NormalizedTarget {
  /** Canonical path, always starting with `/`; the string the router matches and the proxy forwards. */
  readonly path: string;
  /** Query string without the leading `?`, exactly as sent; empty when there is none. */
  readonly query: string;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const QUESTION = 0x3f;
const HASH = 0x23;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * Normalises a raw request target (`req.url`) once, before routing, so that a route rule cannot be
 * bypassed by spelling the same path differently. Returns `undefined` when the target is invalid; the
 * caller answers 400.
 *
 * Rules (see docs/routing.md):
 * - origin-form (`/a?x`) and absolute-form (`http://host/a?x`, only its path is kept) are accepted;
 * - escapes of unreserved characters (ALPHA / DIGIT / `-` `.` `_` `~`) are decoded, other escapes keep
 *   their encoding with upper-case hex; decoding is done once, so `%252e` stays `%252e`;
 * - rejected: an invalid escape, `%00`, an encoded slash `%2F` or backslash `%5C`, a raw backslash,
 *   `#`, control characters, space and non-ASCII characters;
 * - dot segments are removed (RFC 3986 §5.2.4, including decoded `%2e`), runs of slashes collapse to
 *   one, and `..` above the root stays at the root; a trailing slash is kept.
 *
 * @example
 * normalizePath('/a/%2e%2e/b//c?x=1'); // { path: '/b/c', query: 'x=1' }
 * normalizePath('/a%2Fb'); // undefined
 */
export function normalizePath(target: string): NormalizedTarget | undefined {
  const len = target.length;
  let start = 0;
  if (len === 0) return undefined;
  if (target.charCodeAt(0) !== SLASH) {
    start = absoluteFormPathStart(target);
    if (start < 0) return undefined;
    if (start === len) return { path: '/', query: '' };
    if (target.charCodeAt(start) === QUESTION) return { path: '/', query: target.slice(start + 1) };
  }

  let end = len;
  let hasPercent = false;
  let needsDotOrSlashWork = false;
  let prev = 0;
  for (let i = start; i < len; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) {
      end = i;
      break;
    }
    if (c <= 0x20 || c >= 0x7f || c === BACKSLASH || c === HASH) return undefined;
    if (c === PERCENT) hasPercent = true;
    else if (prev === SLASH && (c === SLASH || c === DOT)) needsDotOrSlashWork = true;
    prev = c;
  }
  const query = end < len ? target.slice(end + 1) : '';

  if (!hasPercent && !needsDotOrSlashWork) {
    return { path: start === 0 && end === len ? target : target.slice(start, end), query };
  }
  const decoded = hasPercent ? normalizeEscapes(target, start, end) : target.slice(start, end);
  if (decoded === undefined) return undefined;
  return { path: removeDotSegments(decoded), query };
}

/**
 * Index where the path of an absolute-form target (`scheme://authority/path`) starts: the `/` after the
 * authority, or the `?` / end of string when the path is empty. -1 when the target is not absolute-form
 * (authority-form of CONNECT and the asterisk-form of `OPTIONS *` have no path to route).
 */
function absoluteFormPathStart(target: string): number {
  const len = target.length;
  let i = 0;
  for (; i < len; i++) {
    const c = target.charCodeAt(i);
    const isAlpha = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
    if (isAlpha) continue;
    if (i > 0 && ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === DOT)) continue;
    break;
  }
  if (i === 0 || target.charCodeAt(i) !== COLON || !target.startsWith('//', i + 1)) return -1;
  for (let j = i + 3; j < len; j++) {
    const c = target.charCodeAt(j);
    if (c === SLASH || c === QUESTION) return j;
    if (c === HASH || c === BACKSLASH || c <= 0x20 || c >= 0x7f) return -1;
  }
  return len;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) ||
    c === 0x2d ||
    c === DOT ||
    c === 0x5f ||
    c === 0x7e
  );
}

const HEX = '0123456789ABCDEF';

/**
 * Decodes escapes of unreserved characters (RFC 3986 §6.2.2.2) and upper-cases the hex of the others
 * (§6.2.2.1). An encoded slash or backslash is rejected rather than decoded or kept: decoding it would
 * change the segment structure that the upstream sees, keeping it would let `/admin%2Fusers` route
 * differently from how a decoding upstream reads it (Envoy's REJECT option, for the same reason).
 */
function normalizeEscapes(s: string, start: number, end: number): string | undefined {
  let out = '';
  let copyFrom = start;
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) !== PERCENT) continue;
    if (i + 2 >= end) return undefined;
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hexValue(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return undefined;
    const byte = hi * 16 + lo;
    if (byte === 0 || byte === SLASH || byte === BACKSLASH) return undefined;
    out += s.slice(copyFrom, i);
    out += isUnreserved(byte) ? String.fromCharCode(byte) : '%' + HEX[hi] + HEX[lo];
    i += 2;
    copyFrom = i + 1;
  }
  return out + s.slice(copyFrom, end);
}

/**
 * RFC 3986 §5.2.4 on an absolute path, with empty segments dropped as they are met (so `/a//../b` is
 * `/b`, as nginx's merge_slashes reads it). Only reached on the slow path, where arrays are fine.
 */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  let trailingSlash = false;
  let i = 1;
  while (i <= path.length) {
    let e = path.indexOf('/', i);
    if (e === -1) e = path.length;
    const segment = path.slice(i, e);
    const last = e === path.length;
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      out.pop();
      trailingSlash = last;
    } else {
      out.push(segment);
      trailingSlash = false;
    }
    i = e + 1;
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}
