import { operationMethods, type Contract, type JsonObject } from '../contract.ts';
import { diffRules, type DiffRuleId, type Severity } from './rules.ts';
import { compareSchemas, isObject, type Report } from './schema-diff.ts';

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
    compareParameters(old, next, report);
    compareRequestBody(old.op.requestBody, next.op.requestBody, report);
    compareResponses(old.op.responses, next.op.responses, report);
    compareSecurity(
      effectiveSecurity(old.op, before.resolved),
      effectiveSecurity(next.op, after.resolved),
      report,
    );
  }
  for (const [key, next] of opsAfter)
    if (!opsBefore.has(key)) add('operation-added', next.label, '', 'new operation');
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

function compareParameters(before: Operation, after: Operation, report: Report): void {
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
    if (styleOf(old) !== styleOf(next) || explodeOf(old) !== explodeOf(next))
      report(
        'request-parameter-style-changed',
        at,
        `serialisation changed from ${styleOf(old)}/${explodeOf(old)} to ${styleOf(next)}/${explodeOf(next)}`,
      );
    const oldDefault = isObject(old.schema) ? old.schema.default : undefined;
    const newDefault = isObject(next.schema) ? next.schema.default : undefined;
    if (!required && JSON.stringify(oldDefault) !== JSON.stringify(newDefault))
      report(
        'request-parameter-default-changed',
        at,
        `default changed from ${JSON.stringify(oldDefault)} to ${JSON.stringify(newDefault)}`,
      );
    compareSchemas(old.schema, next.schema, 'request', at, report);
  }
  for (const [key, old] of before.parameters)
    if (!after.parameters.has(key)) report('request-parameter-removed', paramLabel(old), 'no longer read');
}

function paramLabel(param: JsonObject): string {
  return `${String(param.in)}.${String(param.name)}`;
}

function styleOf(param: JsonObject): string {
  if (typeof param.style === 'string') return param.style;
  return param.in === 'query' || param.in === 'cookie' ? 'form' : 'simple';
}

function explodeOf(param: JsonObject): boolean {
  if (typeof param.explode === 'boolean') return param.explode;
  return styleOf(param) === 'form';
}

function compareRequestBody(before: unknown, after: unknown, report: Report): void {
  if (!isObject(after)) return;
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
    if (isObject(media)) compareSchemas(media.schema, next.schema, 'request', at, report);
  }
}

function compareResponses(before: unknown, after: unknown, report: Report): void {
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
    const contentBefore = isObject(response.content) ? response.content : {};
    const contentAfter = isObject(replacement.content) ? replacement.content : {};
    for (const [type, media] of Object.entries(contentBefore)) {
      const other = contentAfter[type];
      if (!isObject(other)) {
        if (success) report('response-media-type-removed', `${at}.${type}`, `${type} is no longer sent`);
        continue;
      }
      if (isObject(media)) compareSchemas(media.schema, other.schema, 'response', `${at}.${type}`, report);
    }
  }
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
