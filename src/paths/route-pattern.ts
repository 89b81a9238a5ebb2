import { PorticoError } from '../errors/portico-error.ts';
import { normalizePath } from './normalize-path.ts';

/**
 * One segment of a compiled path pattern. `param` covers both `{name}` and `*` (name undefined): they
 * match the same thing and rank the same, only `{name}` is captured.
 */
export type PatternSegment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string | undefined }
  | { readonly kind: 'rest' };

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Parses a `match.path` pattern: literal segments, `{name}` (one segment, captured), `*` (one segment,
 * not captured) and a final `**` (the rest, zero or more segments, captured as `**`). Literal segments are
 * normalised like request paths, so `/%7eadmin` in config matches the request `/~admin`.
 *
 * @throws PorticoError `invalid_config` naming the route when the pattern is malformed.
 * @example
 * parsePattern('/users/{id}/**', 'users');
 * // [{ kind: 'literal', value: 'users' }, { kind: 'param', name: 'id' }, { kind: 'rest' }]
 */
export function parsePattern(pattern: string, routeName: string): PatternSegment[] {
  const fail = (why: string): PorticoError =>
    new PorticoError('invalid_config', `route "${routeName}": path pattern "${pattern}" ${why}`, {
      route: routeName,
    });
  if (!pattern.startsWith('/')) throw fail('must start with "/"');
  if (pattern.includes('?')) throw fail('must not contain a query');
  const raw = pattern.slice(1).split('/');
  const segments: PatternSegment[] = [];
  const names = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const text = raw[i] ?? '';
    const last = i === raw.length - 1;
    if (text === '**') {
      if (!last) throw fail('has "**" before its last segment');
      segments.push({ kind: 'rest' });
    } else if (text === '*') {
      segments.push({ kind: 'param', name: undefined });
    } else if (text.includes('{') || text.includes('}')) {
      const name = text.slice(1, -1);
      if (!text.startsWith('{') || !text.endsWith('}') || !PARAM_NAME.test(name)) {
        throw fail(
          `has an invalid parameter "${text}" (a whole segment {name}, name [A-Za-z_][A-Za-z0-9_-]*)`,
        );
      }
      if (name === '__proto__') throw fail('uses the reserved parameter name "__proto__"');
      if (names.has(name)) throw fail(`repeats the parameter "{${name}}"`);
      names.add(name);
      segments.push({ kind: 'param', name });
    } else if (text.includes('*')) {
      throw fail(`has "${text}": "*" and "**" must make up a whole segment`);
    } else if (text === '' && !last) {
      throw fail('has an empty segment ("//"), which a normalised request path never has');
    } else {
      segments.push({ kind: 'literal', value: normalizeLiteral(text, fail) });
    }
  }
  return segments;
}

function normalizeLiteral(text: string, fail: (why: string) => PorticoError): string {
  if (text === '') return text;
  const normalized = normalizePath('/' + text);
  if (normalized === undefined) throw fail(`has the segment "${text}", which requests can never carry`);
  const value = normalized.path.slice(1);
  if (value === '' || value.includes('/')) throw fail(`has the dot segment "${text}"`);
  return value;
}

/** Renders segments back to pattern text, e.g. for explanations. */
export function formatPattern(segments: readonly PatternSegment[]): string {
  let out = '';
  for (const segment of segments) {
    out += '/';
    if (segment.kind === 'literal') out += segment.value;
    else if (segment.kind === 'rest') out += '**';
    else out += segment.name === undefined ? '*' : `{${segment.name}}`;
  }
  return out === '' ? '/' : out;
}

/**
 * Whether a normalised path matches the pattern on its own, ignoring every other route. Linear and
 * allocating: used by `explain`, never on the request path.
 */
export function patternMatches(segments: readonly PatternSegment[], path: string): boolean {
  const parts = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === undefined) break;
    if (segment.kind === 'rest') return true;
    const part = parts[i];
    if (part === undefined) return false;
    if (segment.kind === 'literal' ? part !== segment.value : part === '') return false;
  }
  return parts.length === segments.length;
}
