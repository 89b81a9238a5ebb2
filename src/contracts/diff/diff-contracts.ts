import { operationMethods, type Contract, type JsonObject } from '../contract.ts';
import { diffRules, type DiffRuleId, type Severity } from './rules.ts';
import {
  compareSchemas,
  createCompareContext,
  isObject,
  sunsetOf,
  type CompareContext,
  type Report,
} from './schema-diff.ts';

/** One difference between two contracts. */
export interface ContractChange {
  readonly rule: DiffRuleId;
  readonly severity: Severity;
  /** `METHOD /path` of the operation, or '' for the whole document. */
  readonly operation: string;
  /** Where in the operation: `query.limit`, `request.body.application/json.name`, `response.200…`. */
  readonly location: string;
  readonly message: string;
  /** Accepted by the ignore list: reported but not counted. */
  readonly ignored: boolean;
}

/** An accepted break: every given field must match (omitted or `*` matches anything). */
export interface IgnoreEntry {
  readonly rule?: string | undefined;
  readonly operation?: string | undefined;
  readonly location?: string | undefined;
}

export interface DiffOptions {
  /** Epoch ms, for sunset dates. Default Date.now(). */
  readonly now?: number;
  /** Per-rule severity overrides. */
  readonly severity?: Partial<Record<DiffRuleId, Severity>>;
  readonly ignore?: readonly IgnoreEntry[];
}

export interface DiffResult {
  readonly changes: readonly ContractChange[];
  /** Breaking changes not on the ignore list. */
  readonly breaking: number;
  readonly warnings: number;
}

interface Operation {
  readonly label: string;
  readonly op: JsonObject;
  readonly parameters: Map<string, JsonObject>;
}

/**
 * Classifies every difference between two versions of a contract.
 *
 * @example
 * const result = diffContracts(await parseContract(v1), await parseContract(v1_1));
 * if (result.breaking > 0) console.log(result.changes.filter((c) => c.severity === 'breaking'));
 */
export function diffContracts(before: Contract, after: Contract, options: DiffOptions = {}): DiffResult {
  const now = options.now ?? Date.now();
  const changes: ContractChange[] = [];
  const add = (rule: DiffRuleId, operation: string, location: string, message: string): void => {
    const severity = options.severity?.[rule] ?? diffRules[rule].severity;
    const ignored = (options.ignore ?? []).some(
      (entry) =>
        matches(entry.rule, rule) && matches(entry.operation, operation) && matches(entry.location, location),
    );
    changes.push({ rule, severity, operation, location, message, ignored });
  };
  const ctx = createCompareContext(now);
  const opsBefore = operationsOf(before.resolved);
  const opsAfter = operationsOf(after.resolved);
  for (const [key, old] of opsBefore) {
    const next = opsAfter.get(key);
    if (next === undefined) {
      const sunset = old.op['x-sunset'];
      const retired = old.op.deprecated === true && typeof sunset === 'string' && Date.parse(sunset) <= now;
      add(
        retired ? 'operation-removed-after-sunset' : 'operation-removed',
        old.label,
        '',
        retired ? 'removed after its sunset date' : 'operation removed',
      );
      continue;
    }
    const report: Report = (rule, at, message) => add(rule, next.label, at, message);
    if (old.op.deprecated !== true && next.op.deprecated === true)
      report('deprecated-added', '', 'the operation is now deprecated');
    compareParameters(old, next, report, ctx);
    compareRequestBody(old.op.requestBody, next.op.requestBody, report, ctx);
    compareResponses(old.op.responses, next.op.responses, report, ctx);
    compareCallbacks(old.op.callbacks, next.op.callbacks, report, ctx);
    compareSecurity(
      effectiveSecurity(old.op, before.resolved),
      effectiveSecurity(next.op, after.resolved),
      report,
    );
  }
  for (const [key, next] of opsAfter)
    if (!opsBefore.has(key)) add('operation-added', next.label, '', 'new operation');
  compareWebhooks(before.resolved, after.resolved, add, ctx);
  let breaking = 0;
  let warnings = 0;
  for (const change of changes) {
    if (change.ignored) continue;
    if (change.severity === 'breaking') breaking++;
    else if (change.severity === 'warning') warnings++;
  }
  return { changes, breaking, warnings };
}

function matches(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined || pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

/** Operations keyed by method and path shape, so renaming `{id}` to `{userId}` is not a removal. */
function operationsOf(doc: JsonObject): Map<string, Operation> {
  const out = new Map<string, Operation>();
  const paths = isObject(doc.paths) ? doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const shape = path.replace(/\{[^}]*\}/g, '{}');
    for (const method of operationMethods) {
      const op = item[method];
      if (!isObject(op)) continue;
      const parameters = new Map<string, JsonObject>();
      // Operation parameters override path-item ones with the same name and location (OpenAPI 3 §4.8.9).
      for (const list of [item.parameters, op.parameters]) {
        if (!Array.isArray(list)) continue;
        for (const param of list) {
          if (isObject(param) && typeof param.name === 'string' && typeof param.in === 'string') {
            const name = param.in === 'header' ? param.name.toLowerCase() : param.name;
            // Path parameters are matched by position through the path shape, not by name.
            const key = param.in === 'path' ? `path:${pathIndex(path, param.name)}` : `${param.in}:${name}`;
            parameters.set(key, param);
          }
        }
      }
      out.set(`${method.toUpperCase()} ${shape}`, {
        label: `${method.toUpperCase()} ${path}`,
        op,
        parameters,
      });
    }
  }
  return out;
}

function pathIndex(path: string, name: string): number {
  const index = path.split('/').indexOf(`{${name}}`);
  return index < 0 ? -1 : index;
}

function compareParameters(before: Operation, after: Operation, report: Report, ctx: CompareContext): void {
  for (const [key, next] of after.parameters) {
    const at = paramLabel(next);
    const old = before.parameters.get(key);
    const required = next.required === true || next.in === 'path';
    if (old === undefined) {
      if (required) report('request-parameter-added-required', at, 'new required parameter');
      else report('request-parameter-added-optional', at, 'new optional parameter');
      continue;
    }
    const wasRequired = old.required === true || old.in === 'path';
    if (required && !wasRequired) report('request-parameter-made-required', at, 'is now required');
    const oldMedia = contentTypeOf(old);
    const newMedia = contentTypeOf(next);
    if (oldMedia !== newMedia)
      report(
        'request-parameter-content-changed',
        at,
        `now sent as ${newMedia ?? `${styleOf(next)} text`} instead of ${oldMedia ?? `${styleOf(old)} text`}`,
      );
    // `style` and `explode` do not apply to a parameter given by `content` (OpenAPI 3 §4.8.12.1).
    else if (oldMedia === undefined && (styleOf(old) !== styleOf(next) || explodeOf(old) !== explodeOf(next)))
      report(
        'request-parameter-style-changed',
        at,
        `serialisation changed from ${styleOf(old)}/${explodeOf(old)} to ${styleOf(next)}/${explodeOf(next)}`,
      );
    const oldSchema = paramSchemaOf(old);
    const newSchema = paramSchemaOf(next);
    const oldDefault = isObject(oldSchema) ? oldSchema.default : undefined;
    const newDefault = isObject(newSchema) ? newSchema.default : undefined;
    if (!required && JSON.stringify(oldDefault) !== JSON.stringify(newDefault))
      report(
        'request-parameter-default-changed',
        at,
        `default changed from ${JSON.stringify(oldDefault)} to ${JSON.stringify(newDefault)}`,
      );
    if (old.deprecated !== true && next.deprecated === true)
      report('deprecated-added', at, 'is now deprecated');
    compareSchemas(oldSchema, newSchema, 'request', at, report, ctx);
  }
  for (const [key, old] of before.parameters) {
    if (after.parameters.has(key)) continue;
    if (sunsetOf(old, ctx.now) === 'future')
      report('request-parameter-removed-before-sunset', paramLabel(old), 'removed before its sunset date');
    else report('request-parameter-removed', paramLabel(old), 'no longer read');
  }
}

function paramLabel(param: JsonObject): string {
  return `${String(param.in)}.${String(param.name)}`;
}

/** The media type of a parameter given by `content` (it holds exactly one), undefined for one given by `schema`. */
function contentTypeOf(param: JsonObject): string | undefined {
  return isObject(param.content) ? Object.keys(param.content)[0]?.toLowerCase() : undefined;
}

/** A parameter's schema, from `schema` or from its one `content` entry. */
function paramSchemaOf(param: JsonObject): unknown {
  if (!isObject(param.content)) return param.schema;
  const media = Object.values(param.content)[0];
  return isObject(media) ? media.schema : undefined;
}

function styleOf(param: JsonObject): string {
  if (typeof param.style === 'string') return param.style;
  return param.in === 'query' || param.in === 'cookie' ? 'form' : 'simple';
}

function explodeOf(param: JsonObject): boolean {
  if (typeof param.explode === 'boolean') return param.explode;
  return styleOf(param) === 'form';
}

function compareRequestBody(before: unknown, after: unknown, report: Report, ctx: CompareContext): void {
  if (!isObject(after)) {
    if (isObject(before)) report('request-body-removed', 'request.body', 'the body is no longer taken');
    return;
  }
  const required = after.required === true;
  if (!isObject(before)) {
    if (required) report('request-body-added-required', 'request.body', 'a body is now required');
    return;
  }
  if (required && before.required !== true)
    report('request-body-made-required', 'request.body', 'the body is now required');
  const contentBefore = isObject(before.content) ? before.content : {};
  const contentAfter = isObject(after.content) ? after.content : {};
  for (const [type, media] of Object.entries(contentBefore)) {
    const next = contentAfter[type];
    const at = `request.body.${type}`;
    if (!isObject(next)) {
      report('request-media-type-removed', at, `${type} is no longer accepted`);
      continue;
    }
    if (!hasSchema(media) && hasSchema(next))
      report('request-media-type-schema-added', at, `${type} took anything and now has a schema`);
    else if (isObject(media)) compareSchemas(media.schema, next.schema, 'request', at, report, ctx);
  }
}

/** Whether a media type object constrains its content (`schema: {}` takes anything). */
function hasSchema(media: unknown): boolean {
  return isObject(media) && isObject(media.schema) && Object.keys(media.schema).length > 0;
}

function compareResponses(before: unknown, after: unknown, report: Report, ctx: CompareContext): void {
  const old = isObject(before) ? before : {};
  const next = isObject(after) ? after : {};
  for (const [status, response] of Object.entries(old)) {
    const success = /^2(\d\d|XX)$/i.test(status);
    const replacement = next[status];
    const at = `response.${status}`;
    if (!isObject(replacement)) {
      if (success) report('response-status-removed', at, `status ${status} is no longer sent`);
      continue;
    }
    if (!isObject(response)) continue;
    compareResponseHeaders(response.headers, replacement.headers, success, at, report, ctx);
    compareLinks(response.links, replacement.links, at, report);
    compareResponseContent(response.content, replacement.content, success, at, report, ctx);
  }
}

/** What a server sends: a response's content, or a webhook's payload. */
function compareResponseContent(
  before: unknown,
  after: unknown,
  success: boolean,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const contentBefore = isObject(before) ? before : {};
  const contentAfter = isObject(after) ? after : {};
  for (const [type, media] of Object.entries(contentBefore)) {
    const other = contentAfter[type];
    if (!isObject(other)) {
      if (success) report('response-media-type-removed', `${at}.${type}`, `${type} is no longer sent`);
      continue;
    }
    if (hasSchema(media) && !hasSchema(other)) {
      if (success)
        report('response-media-type-schema-removed', `${at}.${type}`, `${type} may now carry anything`);
    } else if (isObject(media))
      compareSchemas(media.schema, other.schema, 'response', `${at}.${type}`, report, ctx);
  }
}

/**
 * Links tell clients which call comes next and with what: a link gone, or pointing at another operation or fed
 * other values, leaves clients that follow it behind. Descriptions and servers are not compared.
 */
function compareLinks(before: unknown, after: unknown, at: string, report: Report): void {
  if (!isObject(before)) return;
  const next = isObject(after) ? after : {};
  for (const [name, link] of Object.entries(before)) {
    if (!isObject(link)) continue;
    const replacement = next[name];
    const where = `${at}.links.${name}`;
    if (!isObject(replacement)) {
      report('response-link-removed', where, `link ${name} is gone`);
      continue;
    }
    const changed = (['operationId', 'operationRef', 'parameters', 'requestBody'] as const).filter(
      (key) => JSON.stringify(link[key]) !== JSON.stringify(replacement[key]),
    );
    if (changed.length > 0) report('response-link-changed', where, `${changed.join(', ')} changed`);
  }
}

/** Header names are case-insensitive (RFC 9110 §5.1); a header is optional unless `required: true`. */
function compareResponseHeaders(
  before: unknown,
  after: unknown,
  success: boolean,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const lower = (headers: unknown): Map<string, [string, JsonObject]> =>
    new Map(
      Object.entries(isObject(headers) ? headers : {})
        .filter((entry): entry is [string, JsonObject] => isObject(entry[1]))
        .map(([name, header]) => [name.toLowerCase(), [name, header]]),
    );
  const old = lower(before);
  const next = lower(after);
  for (const [key, [name, header]] of old) {
    const where = `${at}.headers.${name}`;
    const replacement = next.get(key)?.[1];
    if (replacement === undefined) {
      if (!success) continue;
      if (header.required === true) report('response-header-removed', where, `${name} is no longer sent`);
      else report('response-optional-header-removed', where, `${name} is no longer described`);
      continue;
    }
    if (header.required === true && replacement.required !== true)
      report('response-header-made-optional', where, `${name} is no longer always sent`);
    compareSchemas(header.schema, replacement.schema, 'response', where, report, ctx);
  }
}

/**
 * Webhooks (OpenAPI 3.1) turn the exchange around: the server sends the request, so its payload is compared like
 * a response (widening it breaks the receivers).
 */
function compareWebhooks(
  before: JsonObject,
  after: JsonObject,
  add: (rule: DiffRuleId, operation: string, location: string, message: string) => void,
  ctx: CompareContext,
): void {
  const old = isObject(before.webhooks) ? before.webhooks : {};
  const next = isObject(after.webhooks) ? after.webhooks : {};
  for (const [name, item] of Object.entries(old)) {
    if (!isObject(item)) continue;
    const replacement = next[name];
    for (const method of operationMethods) {
      const op = item[method];
      if (!isObject(op)) continue;
      const label = `${method.toUpperCase()} webhook:${name}`;
      const other = isObject(replacement) ? replacement[method] : undefined;
      if (!isObject(other)) {
        add('webhook-removed', label, '', 'the webhook is no longer sent');
        continue;
      }
      const report: Report = (rule, at, message) => add(rule, label, at, message);
      const body = isObject(op.requestBody) ? op.requestBody.content : undefined;
      const nextBody = isObject(other.requestBody) ? other.requestBody.content : undefined;
      compareResponseContent(body, nextBody, true, 'payload', report, ctx);
    }
  }
  for (const [name, item] of Object.entries(next)) {
    if (!isObject(item)) continue;
    for (const method of operationMethods) {
      const had = isObject(old[name]) ? old[name][method] : undefined;
      if (isObject(item[method]) && !isObject(had))
        add('webhook-added', `${method.toUpperCase()} webhook:${name}`, '', 'new webhook');
    }
  }
}

/**
 * Callbacks are requests the server makes to the client, like webhooks: a callback operation gone breaks the
 * clients waiting for it, and its payload is compared like a response. Matched by name, expression and method.
 */
function compareCallbacks(before: unknown, after: unknown, report: Report, ctx: CompareContext): void {
  const old = callbackOperations(before);
  const next = callbackOperations(after);
  for (const [key, op] of old) {
    const other = next.get(key);
    if (other === undefined) {
      report('callback-removed', key, 'the callback is no longer made');
      continue;
    }
    const body = isObject(op.requestBody) ? op.requestBody.content : undefined;
    const nextBody = isObject(other.requestBody) ? other.requestBody.content : undefined;
    compareResponseContent(body, nextBody, true, `${key}.payload`, report, ctx);
  }
  for (const key of next.keys()) if (!old.has(key)) report('callback-added', key, 'new callback');
}

/** `callbacks.<name>.<expression> <METHOD>` → the callback operation. */
function callbackOperations(callbacks: unknown): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  if (!isObject(callbacks)) return out;
  for (const [name, callback] of Object.entries(callbacks)) {
    if (!isObject(callback)) continue;
    for (const [expression, item] of Object.entries(callback)) {
      if (!isObject(item)) continue;
      for (const method of operationMethods) {
        const op = item[method];
        if (isObject(op)) out.set(`callbacks.${name}.${expression} ${method.toUpperCase()}`, op);
      }
    }
  }
  return out;
}

type Requirement = Map<string, Set<string>>;

function effectiveSecurity(op: JsonObject, doc: JsonObject): Requirement[] {
  const list = Array.isArray(op.security) ? op.security : Array.isArray(doc.security) ? doc.security : [];
  const out: Requirement[] = [];
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const requirement: Requirement = new Map();
    for (const [scheme, scopes] of Object.entries(entry))
      requirement.set(scheme, new Set(Array.isArray(scopes) ? (scopes as string[]) : []));
    out.push(requirement);
  }
  return out;
}

/**
 * Alternatives are OR-ed and each is an AND of schemes: a client that met an old alternative still gets in when
 * some new alternative asks for a subset of its schemes and scopes.
 */
function compareSecurity(before: Requirement[], after: Requirement[], report: Report): void {
  if (after.length === 0) return;
  const oldAlternatives = before.length === 0 ? [new Map()] : before;
  for (const old of oldAlternatives) {
    if (after.some((next) => subsetOf(next, old, true))) continue;
    const sameSchemes = after.some((next) => subsetOf(next, old, false));
    const names = (requirement: Requirement): string => [...requirement.keys()].join('+') || 'anonymous';
    if (sameSchemes) report('security-scope-added', 'security', `needs more scopes than ${names(old)} gave`);
    else report('security-requirement-added', 'security', `callers using ${names(old)} are no longer enough`);
    return;
  }
}

function subsetOf(next: Requirement, old: Requirement, withScopes: boolean): boolean {
  for (const [scheme, scopes] of next) {
    const had = old.get(scheme);
    if (had === undefined) return false;
    if (withScopes) for (const scope of scopes) if (!had.has(scope)) return false;
  }
  return true;
}
