// A hand-written segment trie rather than find-my-way: find-my-way picks one path node and cannot
// backtrack to a less specific path when every route there fails its host, header or method predicate,
// which our priority rule requires (docs/routing.md). Compiled once; `find` walks the path by index.
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteMatchConfig } from '../../config/schema.ts';
import {
  formatPattern,
  parsePattern,
  patternMatches,
  type PatternSegment,
} from '../../paths/route-pattern.ts';

/** A route as the router sees it: a name for logs and explanations, its match rule, and any payload. */
export interface RouteEntry<T> {
  readonly name: string;
  readonly match: RouteMatchConfig;
  readonly value: T;
}

/** The winning route and its path parameters (`{name}` under its name, the `**` rest under `'**'`). */
export interface RouteMatch<T> {
  readonly entry: RouteEntry<T>;
  /** Values as they appear in the normalised path (escapes other than unreserved stay encoded). */
  readonly params: Record<string, string>;
}

/** Why one route did or did not serve a request. */
export interface RouteVerdict {
  readonly name: string;
  readonly result: 'matched' | 'shadowed' | 'no-match';
  readonly reason: string;
}

/** Answer of `explain`, served by the admin call `GET /v1/routes/match`. */
export interface RouteExplanation {
  readonly path: string;
  readonly matched?: { readonly name: string; readonly params: Record<string, string> };
  /** Every route, in declaration order. */
  readonly routes: RouteVerdict[];
}

/** The compiled, immutable route table. */
export interface Router<T> {
  /**
   * The route serving a request, or undefined (404). `path` must already be normalised (`normalizePath`).
   * Priority: most specific path, compared segment by segment (literal > `{param}`/`*` > `**`); then host
   * (exact > wildcard > none); then more header conditions; then restricted methods over all methods; then
   * declaration order. When every route of the most specific path fails its host, method or header check,
   * the next less specific path is tried.
   */
  find(
    method: string,
    host: string | undefined,
    path: string,
    headers: IncomingHttpHeaders,
  ): RouteMatch<T> | undefined;
  /**
   * The methods accepted by the routes whose path, host and headers match (for a 405 and its `Allow`), or
   * undefined when no route serves this path at all. Called only after `find` missed.
   */
  allowedMethods(host: string | undefined, path: string, headers: IncomingHttpHeaders): string[] | undefined;
  /** For each route, why it matched, lost to another route, or did not match. Linear; not for the hot path. */
  explain(
    method: string,
    host: string | undefined,
    path: string,
    headers: IncomingHttpHeaders,
  ): RouteExplanation;
  /** Number of routes. */
  readonly size: number;
}

/** Stands for every method in a walk; never a real request method. */
const ANY_METHOD = '';

const HOST_NONE = 0;
const HOST_WILDCARD = 1;
const HOST_EXACT = 2;

/** A route compiled for the trie: every check resolved to plain comparisons. */
interface Candidate<T> {
  readonly entry: RouteEntry<T>;
  readonly order: number;
  readonly segments: readonly PatternSegment[];
  /** Names of the one-segment captures in path order; undefined for `*`. */
  readonly paramNames: readonly (string | undefined)[];
  readonly hasRest: boolean;
  /** Shared answer for routes without captures, so their lookups allocate nothing. */
  readonly staticMatch: RouteMatch<T> | undefined;
  /** Undefined when all methods are allowed; includes HEAD whenever GET is allowed. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly hostKind: number;
  /** Lower-case exact host, or the lower-case suffix (`.example.test`) of a wildcard. */
  readonly host: string;
  readonly headerNames: readonly string[];
  readonly headerValues: readonly string[];
  /** Identity of the trie list the candidate sits in, to tell "same path" from "more specific path". */
  slot: Candidate<T>[] | undefined;
}

class TrieNode<T> {
  readonly literal: string;
  /** Literal children bucketed by a hash of their text, so lookup needs no substring. */
  children: Map<number, TrieNode<T>[]> | undefined;
  param: TrieNode<T> | undefined;
  /** Routes whose pattern ends at this node. */
  readonly end: Candidate<T>[] = [];
  /** Routes whose pattern ends with `**` at this node. */
  readonly rest: Candidate<T>[] = [];

  constructor(literal: string) {
    this.literal = literal;
  }
}

const EMPTY_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** FNV-1a over `s[from, to)`; compile time and lookup must agree. */
function hashRange(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}

function compareCandidates<T>(a: Candidate<T>, b: Candidate<T>): number {
  return (
    b.hostKind - a.hostKind ||
    b.headerNames.length - a.headerNames.length ||
    Number(b.methods !== undefined) - Number(a.methods !== undefined) ||
    a.order - b.order
  );
}

function compileCandidate<T>(entry: RouteEntry<T>, order: number): Candidate<T> {
  const segments = parsePattern(entry.match.path, entry.name);
  const paramNames: (string | undefined)[] = [];
  let hasRest = false;
  for (const segment of segments) {
    if (segment.kind === 'param') paramNames.push(segment.name);
    else if (segment.kind === 'rest') hasRest = true;
  }
  let methods: Set<string> | undefined;
  if (entry.match.methods !== undefined) {
    methods = new Set(entry.match.methods);
    if (methods.has('GET')) methods.add('HEAD');
  }
  let hostKind = HOST_NONE;
  let host = '';
  if (entry.match.host !== undefined) {
    host = stripHostDot(entry.match.host.toLowerCase());
    if (host.startsWith('*.')) {
      hostKind = HOST_WILDCARD;
      host = host.slice(1);
    } else {
      hostKind = HOST_EXACT;
    }
  }
  const headerNames: string[] = [];
  const headerValues: string[] = [];
  for (const [name, value] of Object.entries(entry.match.headers ?? {})) {
    headerNames.push(name.toLowerCase());
    headerValues.push(value);
  }
  return {
    entry,
    order,
    segments,
    paramNames,
    hasRest,
    staticMatch:
      hasRest || paramNames.some((name) => name !== undefined)
        ? undefined
        : Object.freeze({ entry, params: EMPTY_PARAMS }),
    methods,
    hostKind,
    host,
    headerNames,
    headerValues,
    slot: undefined,
  };
}

function stripHostDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** End of the host name in a Host header value: before the port and a trailing dot. */
function hostNameEnd(host: string): number {
  let end: number;
  if (host.charCodeAt(0) === 0x5b) {
    end = host.indexOf(']') + 1;
    if (end === 0) end = host.length;
  } else {
    end = host.indexOf(':');
    if (end === -1) end = host.length;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 0x2e) end--;
  return end;
}

/** Case-insensitive `host[from, to) === want`, with `want` already lower-case. */
function hostRangeEquals(host: string, from: number, to: number, want: string): boolean {
  if (to - from !== want.length) return false;
  for (let i = 0; i < want.length; i++) {
    let c = host.charCodeAt(from + i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== want.charCodeAt(i)) return false;
  }
  return true;
}

function hostAccepts<T>(c: Candidate<T>, host: string | undefined, hostEnd: number): boolean {
  if (c.hostKind === HOST_NONE) return true;
  if (host === undefined) return false;
  if (c.hostKind === HOST_EXACT) return hostRangeEquals(host, 0, hostEnd, c.host);
  // The wildcard needs at least one label before the suffix, so the apex does not match.
  return hostEnd > c.host.length && hostRangeEquals(host, hostEnd - c.host.length, hostEnd, c.host);
}

function headerAccepts(actual: string | string[] | undefined, want: string): boolean {
  if (typeof actual === 'string') return actual === want;
  if (actual === undefined) return false;
  for (let i = 0; i < actual.length; i++) if (actual[i] === want) return true;
  return false;
}

function headersAccept<T>(c: Candidate<T>, headers: IncomingHttpHeaders): boolean {
  for (let i = 0; i < c.headerNames.length; i++) {
    if (!headerAccepts(headers[c.headerNames[i] as string], c.headerValues[i] as string)) return false;
  }
  return true;
}

function accepts<T>(
  c: Candidate<T>,
  method: string,
  host: string | undefined,
  hostEnd: number,
  headers: IncomingHttpHeaders,
): boolean {
  return (
    (c.methods === undefined || method === ANY_METHOD || c.methods.has(method)) &&
    hostAccepts(c, host, hostEnd) &&
    headersAccept(c, headers)
  );
}

function pick<T>(
  list: readonly Candidate<T>[],
  method: string,
  host: string | undefined,
  hostEnd: number,
  headers: IncomingHttpHeaders,
): Candidate<T> | undefined {
  for (let i = 0; i < list.length; i++) {
    const c = list[i] as Candidate<T>;
    if (accepts(c, method, host, hostEnd, headers)) return c;
  }
  return undefined;
}

class SegmentTrieRouter<T> implements Router<T> {
  readonly size: number;
  readonly #root = new TrieNode<T>('');
  readonly #candidates: Candidate<T>[];
  /** Capture positions of the current walk; `find` is synchronous, so one buffer per router is safe. */
  readonly #starts: Int32Array;
  readonly #ends: Int32Array;
  #restStart = 0;

  constructor(entries: readonly RouteEntry<T>[]) {
    this.size = entries.length;
    this.#candidates = entries.map((entry, order) => compileCandidate(entry, order));
    let maxParams = 0;
    for (const c of this.#candidates) {
      maxParams = Math.max(maxParams, c.paramNames.length);
      const node = this.#insert(c.segments);
      c.slot = c.hasRest ? node.rest : node.end;
      c.slot.push(c);
    }
    this.#sortAll(this.#root);
    this.#starts = new Int32Array(maxParams);
    this.#ends = new Int32Array(maxParams);
  }

  #insert(segments: readonly PatternSegment[]): TrieNode<T> {
    let node = this.#root;
    for (const segment of segments) {
      if (segment.kind === 'rest') break;
      if (segment.kind === 'param') {
        node.param ??= new TrieNode<T>('');
        node = node.param;
        continue;
      }
      const hash = hashRange(segment.value, 0, segment.value.length);
      node.children ??= new Map();
      let bucket = node.children.get(hash);
      if (bucket === undefined) node.children.set(hash, (bucket = []));
      let child = bucket.find((n) => n.literal === segment.value);
      if (child === undefined) bucket.push((child = new TrieNode<T>(segment.value)));
      node = child;
    }
    return node;
  }

  #sortAll(node: TrieNode<T>): void {
    node.end.sort(compareCandidates);
    node.rest.sort(compareCandidates);
    if (node.param !== undefined) this.#sortAll(node.param);
    if (node.children !== undefined) {
      for (const bucket of node.children.values()) for (const child of bucket) this.#sortAll(child);
    }
  }

  find(
    method: string,
    host: string | undefined,
    path: string,
    headers: IncomingHttpHeaders,
  ): RouteMatch<T> | undefined {
    const hostEnd = host === undefined ? 0 : hostNameEnd(host);
    const c = this.#walk(this.#root, path, 1, 0, method, host, hostEnd, headers);
    if (c === undefined) return undefined;
    if (c.staticMatch !== undefined) return c.staticMatch;
    const params: Record<string, string> = {};
    for (let i = 0; i < c.paramNames.length; i++) {
      const name = c.paramNames[i];
      if (name !== undefined) params[name] = path.slice(this.#starts[i], this.#ends[i]);
    }
    if (c.hasRest) params['**'] = path.slice(this.#restStart);
    return { entry: c.entry, params };
  }

  allowedMethods(host: string | undefined, path: string, headers: IncomingHttpHeaders): string[] | undefined {
    const hostEnd = host === undefined ? 0 : hostNameEnd(host);
    if (this.#walk(this.#root, path, 1, 0, ANY_METHOD, host, hostEnd, headers) === undefined)
      return undefined;
    const allowed = new Set<string>();
    for (const c of this.#candidates) {
      if (c.methods === undefined || !patternMatches(c.segments, path)) continue;
      if (hostAccepts(c, host, hostEnd) && headersAccept(c, headers))
        for (const m of c.methods) allowed.add(m);
    }
    return [...allowed].sort();
  }

  /**
   * Depth-first: the literal child, then the parameter child, then `**` at this node, so the first route
   * found is the most specific one that passes its checks. `pos` is the start of the current segment;
   * `pos > path.length` means the path is used up.
   */
  #walk(
    node: TrieNode<T>,
    path: string,
    pos: number,
    depth: number,
    method: string,
    host: string | undefined,
    hostEnd: number,
    headers: IncomingHttpHeaders,
  ): Candidate<T> | undefined {
    const len = path.length;
    if (pos > len) {
      const exact = pick(node.end, method, host, hostEnd, headers);
      if (exact !== undefined) return exact;
      if (node.rest.length === 0) return undefined;
      this.#restStart = len;
      return pick(node.rest, method, host, hostEnd, headers);
    }
    let end = path.indexOf('/', pos);
    if (end === -1) end = len;
    if (node.children !== undefined) {
      const bucket = node.children.get(hashRange(path, pos, end));
      if (bucket !== undefined) {
        for (let i = 0; i < bucket.length; i++) {
          const child = bucket[i] as TrieNode<T>;
          if (child.literal.length === end - pos && path.startsWith(child.literal, pos)) {
            const found = this.#walk(child, path, end + 1, depth, method, host, hostEnd, headers);
            if (found !== undefined) return found;
            break;
          }
        }
      }
    }
    if (node.param !== undefined && end > pos) {
      this.#starts[depth] = pos;
      this.#ends[depth] = end;
      const found = this.#walk(node.param, path, end + 1, depth + 1, method, host, hostEnd, headers);
      if (found !== undefined) return found;
    }
    if (node.rest.length === 0) return undefined;
    this.#restStart = pos;
    return pick(node.rest, method, host, hostEnd, headers);
  }

  explain(
    method: string,
    host: string | undefined,
    path: string,
    headers: IncomingHttpHeaders,
  ): RouteExplanation {
    const winner = this.find(method, host, path, headers);
    const won = winner === undefined ? undefined : this.#candidates.find((c) => c.entry === winner.entry);
    const hostEnd = host === undefined ? 0 : hostNameEnd(host);
    const routes: RouteVerdict[] = this.#candidates.map((c) => {
      const name = c.entry.name;
      const failure = whyNot(c, method, host, hostEnd, path, headers);
      if (failure !== undefined) return { name, result: 'no-match', reason: failure };
      if (c === won) return { name, result: 'matched', reason: 'matched' };
      return { name, result: 'shadowed', reason: won === undefined ? 'matched' : whyShadowed(c, won) };
    });
    if (winner === undefined) return { path, routes };
    return { path, matched: { name: winner.entry.name, params: { ...winner.params } }, routes };
  }
}

function whyNot<T>(
  c: Candidate<T>,
  method: string,
  host: string | undefined,
  hostEnd: number,
  path: string,
  headers: IncomingHttpHeaders,
): string | undefined {
  if (!patternMatches(c.segments, path)) return `path does not match ${formatPattern(c.segments)}`;
  if (c.methods !== undefined && !c.methods.has(method)) {
    return `method ${method} is not one of ${[...c.entry.match.methods!].join(', ')}`;
  }
  if (!hostAccepts(c, host, hostEnd)) {
    return host === undefined
      ? `no Host header; route requires ${c.entry.match.host}`
      : `host ${host} does not match ${c.entry.match.host}`;
  }
  for (let i = 0; i < c.headerNames.length; i++) {
    const name = c.headerNames[i] as string;
    const want = c.headerValues[i] as string;
    const actual = headers[name];
    if (!headerAccepts(actual, want)) {
      return actual === undefined
        ? `header ${name} is missing (expected ${JSON.stringify(want)})`
        : `header ${name} is ${JSON.stringify(actual)}, expected ${JSON.stringify(want)}`;
    }
  }
  return undefined;
}

function whyShadowed<T>(c: Candidate<T>, won: Candidate<T>): string {
  const by = `route "${won.entry.name}"`;
  if (c.slot !== won.slot) return `${by} has a more specific path (${formatPattern(won.segments)})`;
  if (won.hostKind !== c.hostKind) return `${by} has the same path and a more specific host`;
  if (won.headerNames.length !== c.headerNames.length)
    return `${by} has the same path and more header conditions`;
  if ((won.methods === undefined) !== (c.methods === undefined)) {
    return `${by} has the same path and restricts its methods`;
  }
  return `${by} has the same path and conditions and is declared earlier`;
}

/**
 * Compiles routes into a router. Throws a PorticoError `invalid_config` naming the route when a path
 * pattern is malformed (`**` not last, a bad `{}`), so a config load can report and skip it.
 *
 * @example
 * const router = createRouter([
 *   { name: 'user', match: { path: '/users/{id}', methods: ['GET'] }, value: 'users' },
 *   { name: 'users-rest', match: { path: '/users/**' }, value: 'users' },
 * ]);
 * router.find('GET', 'api.example.test', '/users/42', {});
 * // { entry: <user>, params: { id: '42' } }
 */
export function createRouter<T>(entries: readonly RouteEntry<T>[]): Router<T> {
  return new SegmentTrieRouter(entries);
}
