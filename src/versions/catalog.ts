import semver from 'semver';
import type { RouteConfig } from '../config/schema.ts';
import { configContracts } from '../contracts/config-contracts.ts';
import { operationMethods, type Contract, type JsonObject } from '../contracts/contract.ts';
import type { Runtime } from '../gateway/runtime/compile-runtime.ts';
import { parsePattern, patternMatches, type PatternSegment } from '../paths/route-pattern.ts';
import type { ContractBook } from './contract-book.ts';

/** The contract that describes one major version of a service in the catalogue. */
interface MajorContract {
  readonly major: number;
  /** The registered version the contract came from, or `<major>.x` for a contract file. */
  readonly version: string;
  readonly contract: Contract;
}

const COMPONENT_KINDS = [
  'schemas',
  'parameters',
  'requestBodies',
  'responses',
  'headers',
  'examples',
  'links',
  'callbacks',
  'pathItems',
] as const;

/**
 * One OpenAPI 3.1 document of everything the gateway exposes: for each route, the operations of its service's
 * contracts at their public paths (the route's `stripPrefix` or `rewrite` inverted; `/v<major>` in front for
 * routes that take the version from the path), tagged by service. Components of each contract are kept under
 * `<service>_v<major>_<name>` so two services cannot collide. Operations whose public path cannot be worked
 * out (a rewrite that drops parts of the path) or that the route does not match are left out.
 *
 * @example
 * const document = buildCatalog(runtime, book); // served as GET /v1/catalog
 */
export function buildCatalog(runtime: Runtime, book: ContractBook | undefined): JsonObject {
  const paths: Record<string, JsonObject> = {};
  const components: Record<string, JsonObject> = {};
  const tags = new Map<string, JsonObject>();
  const seenComponents = new Set<string>();
  for (const route of runtime.config.routes) {
    const service = runtime.services.get(route.service);
    if (service === undefined) continue;
    const majors = contractsOf(runtime, book, route.service, service.instances.all);
    const byPath = route.version?.from.includes('path') === true;
    const targets = byPath ? majors : defaultMajor(majors, route.version?.default);
    const pattern = safePattern(route);
    if (pattern === undefined) continue;
    for (const target of targets) {
      const prefix = `${route.service}_v${target.major}_`;
      const added = addOperations(paths, route, pattern, target, prefix, byPath);
      if (added === 0) continue;
      tags.set(route.service, { name: route.service, description: `Service ${route.service}` });
      if (!seenComponents.has(prefix)) {
        seenComponents.add(prefix);
        addComponents(components, target.contract.document, prefix);
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Portico API catalogue',
      version: String(book?.revision ?? 0),
      description: 'Every operation this gateway exposes, at its public path, per service version.',
    },
    tags: [...tags.values()].sort((a, b) => String(a.name).localeCompare(String(b.name))),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components,
  };
}

/** Per major, the contract of its highest registered version that published one, else the config file's. */
function contractsOf(
  runtime: Runtime,
  book: ContractBook | undefined,
  service: string,
  instances: readonly { version: string | undefined }[],
): MajorContract[] {
  const byMajor = new Map<number, MajorContract>();
  const versions = [
    ...new Set(
      instances.map((i) => i.version).filter((v): v is string => v !== undefined && semver.valid(v) !== null),
    ),
  ].sort(semver.rcompare);
  for (const version of versions) {
    const major = semver.major(version);
    const contract = book?.lookup(service, version)?.contract;
    if (contract !== undefined && !byMajor.has(major)) byMajor.set(major, { major, version, contract });
  }
  for (const [major, entry] of configContracts(runtime.config).get(service) ?? []) {
    if (!byMajor.has(major)) byMajor.set(major, { major, version: `${major}.x`, contract: entry.contract });
  }
  return [...byMajor.values()].sort((a, b) => b.major - a.major);
}

/** Without a version in the path, the unversioned path shows the default range's major (else the highest). */
function defaultMajor(majors: readonly MajorContract[], range: string | undefined): MajorContract[] {
  if (range !== undefined) {
    const wanted = majors.find((m) => semver.intersects(`${m.major}.x`, range));
    if (wanted !== undefined) return [wanted];
  }
  return majors.slice(0, 1);
}

function addOperations(
  paths: Record<string, JsonObject>,
  route: RouteConfig,
  pattern: readonly PatternSegment[],
  target: MajorContract,
  prefix: string,
  byPath: boolean,
): number {
  let added = 0;
  const methods = route.match.methods?.map((m) => m.toLowerCase());
  for (const [template, rawItem] of Object.entries((target.contract.document.paths ?? {}) as JsonObject)) {
    const publicPath = publicPathOf(route, template);
    if (publicPath === undefined || !patternMatches(pattern, publicPath)) continue;
    const key = byPath ? `/v${target.major}${publicPath}` : publicPath;
    const item = rawItem as JsonObject;
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of operationMethods) {
      const operation = item[method] as JsonObject | undefined;
      if (operation === undefined || (methods !== undefined && !methods.includes(method))) continue;
      const out = (paths[key] ??= {});
      // Routes are listed in config order: an operation already described by an earlier route stays.
      if (out[method] !== undefined) continue;
      const own = Array.isArray(operation.parameters) ? operation.parameters : [];
      const copy = rewriteRefs(structuredClone(operation), prefix) as JsonObject;
      const parameters = mergeParameters(
        rewriteRefs(structuredClone(shared), prefix) as unknown[],
        copy.parameters,
      );
      out[method] = {
        ...copy,
        ...(shared.length + own.length === 0 ? {} : { parameters }),
        ...(typeof operation.operationId === 'string'
          ? { operationId: `${prefix}${operation.operationId}` }
          : {}),
        tags: [route.service],
        'x-portico': { route: route.name, service: route.service, version: target.version },
      };
      added++;
    }
  }
  return added;
}

/**
 * The path a client uses for an upstream path: `stripPrefix` put back, or a `rewrite` ending in `{**}` turned
 * around (`/api/**` rewritten to `/internal/{**}` shows `/internal/x` as `/api/x`). Undefined when it cannot be
 * known.
 */
export function publicPathOf(route: RouteConfig, upstream: string): string | undefined {
  const rewrite = route.rewrite;
  if (rewrite === undefined) {
    const strip = route.stripPrefix?.replace(/\/+$/, '') ?? '';
    if (strip === '') return upstream;
    return upstream === '/' ? strip : strip + upstream;
  }
  const match = route.match.path;
  if (rewrite.endsWith('{**}') && match.endsWith('/**')) {
    const from = rewrite.slice(0, -4);
    const to = match.slice(0, -2);
    if (from.includes('{') || to.includes('{') || to.includes('*')) return undefined;
    if (upstream.startsWith(from)) return to + upstream.slice(from.length);
    return upstream === from.replace(/\/$/, '') ? to.replace(/\/$/, '') || '/' : undefined;
  }
  if (rewrite.includes('{**}') || match.includes('*')) return undefined;
  return sameShape(rewrite, upstream) ? match : undefined;
}

function sameShape(a: string, b: string): boolean {
  const left = a.split('/');
  const right = b.split('/');
  if (left.length !== right.length) return false;
  return left.every((part, i) => {
    const other = right[i] as string;
    return part === other || part.startsWith('{') || other.startsWith('{');
  });
}

function safePattern(route: RouteConfig): PatternSegment[] | undefined {
  try {
    return parsePattern(route.match.path, route.name);
  } catch {
    return undefined;
  }
}

function mergeParameters(shared: unknown[], own: unknown): unknown[] {
  const list = Array.isArray(own) ? own : [];
  const key = (p: unknown) => `${String((p as JsonObject).in)}:${String((p as JsonObject).name)}`;
  const overridden = new Set(list.map(key));
  return [...shared.filter((p) => !overridden.has(key(p))), ...list];
}

function addComponents(components: Record<string, JsonObject>, document: JsonObject, prefix: string): void {
  const source = (document.components ?? {}) as JsonObject;
  for (const kind of COMPONENT_KINDS) {
    const entries = source[kind] as JsonObject | undefined;
    if (entries === undefined) continue;
    const target = (components[kind] ??= {});
    for (const [name, value] of Object.entries(entries))
      target[`${prefix}${name}`] = rewriteRefs(structuredClone(value), prefix);
  }
  // Security requirements name schemes directly (no $ref): they keep their names, the first service's wins.
  const schemes = source.securitySchemes as JsonObject | undefined;
  if (schemes !== undefined) {
    const target = (components.securitySchemes ??= {});
    for (const [name, value] of Object.entries(schemes)) target[name] ??= value;
  }
}

/** Points every local component `$ref` at the prefixed copy. */
function rewriteRefs(node: unknown, prefix: string): unknown {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = rewriteRefs(node[i], prefix);
    return node;
  }
  const object = node as JsonObject;
  for (const [key, value] of Object.entries(object)) {
    if (key === '$ref' && typeof value === 'string') {
      const found = /^#\/components\/([^/]+)\/(.+)$/.exec(value);
      if (found !== null && found[1] !== 'securitySchemes')
        object[key] = `#/components/${found[1]}/${prefix}${found[2]}`;
    } else object[key] = rewriteRefs(value, prefix);
  }
  return object;
}
