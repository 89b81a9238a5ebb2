import type { JsonObject } from '../contract.ts';
import type { DiffRuleId } from './rules.ts';

/** Which side of the exchange a schema describes: requests may not narrow, responses may not widen. */
export type Direction = 'request' | 'response';

/** Receives each difference found; `at` is a readable location such as `body.user.email`. */
export type Report = (rule: DiffRuleId, at: string, message: string) => void;

const lowerBounds = ['minLength', 'minItems', 'minProperties'] as const;
const upperBounds = ['maxLength', 'maxItems', 'maxProperties'] as const;

/**
 * Compares two resolved JSON Schemas. Resolved documents may be cyclic (a tree node that holds its children),
 * so each pair of objects is compared once.
 */
export function compareSchemas(
  before: unknown,
  after: unknown,
  direction: Direction,
  at: string,
  report: Report,
  seen: WeakMap<object, WeakSet<object>> = new WeakMap(),
): void {
  if (!isObject(before) || !isObject(after)) return;
  let pairs = seen.get(before);
  if (pairs?.has(after) === true) return;
  if (pairs === undefined) seen.set(before, (pairs = new WeakSet()));
  pairs.add(after);
  const a = flattenAllOf(before);
  const b = flattenAllOf(after);
  compareTypes(a, b, direction, at, report);
  compareNullable(a, b, direction, at, report);
  compareEnums(a, b, direction, at, report);
  if (direction === 'request') compareRequestBounds(a, b, at, report);
  compareProperties(a, b, direction, at, report, seen);
  compareAlternatives(a, b, direction, at, report, seen);
  if (isObject(a.items) && isObject(b.items))
    compareSchemas(a.items, b.items, direction, `${at}[]`, report, seen);
  if (isObject(a.additionalProperties) && isObject(b.additionalProperties))
    compareSchemas(a.additionalProperties, b.additionalProperties, direction, `${at}{}`, report, seen);
}

function compareTypes(a: JsonObject, b: JsonObject, direction: Direction, at: string, report: Report): void {
  const before = typesOf(a);
  const after = typesOf(b);
  if (before === undefined && after === undefined) return;
  // Requests: every value the old schema accepted must still be accepted. Responses: the reverse.
  const [wider, narrower] = direction === 'request' ? [after, before] : [before, after];
  if (wider === undefined) return;
  if (narrower === undefined || ![...narrower].every((t) => covers(wider, t)))
    report('type-changed', at, `type changed from ${describeTypes(before)} to ${describeTypes(after)}`);
}

function compareNullable(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
): void {
  const before = isNullable(a);
  const after = isNullable(b);
  if (direction === 'request' && before && !after)
    report('request-nullable-removed', at, 'null is no longer accepted');
  if (direction === 'response' && !before && after) report('response-made-nullable', at, 'may now be null');
}

function compareEnums(a: JsonObject, b: JsonObject, direction: Direction, at: string, report: Report): void {
  const before = Array.isArray(a.enum) ? a.enum : undefined;
  const after = Array.isArray(b.enum) ? b.enum : undefined;
  if (direction === 'request') {
    if (after === undefined) return;
    if (before === undefined) {
      report('request-enum-added', at, `now limited to ${JSON.stringify(after)}`);
      return;
    }
    const removed = before.filter((value) => !after.some((other) => sameJson(value, other)));
    if (removed.length > 0)
      report('request-enum-value-removed', at, `no longer accepts ${JSON.stringify(removed)}`);
    return;
  }
  if (before === undefined || after === undefined) return;
  const added = after.filter((value) => !before.some((other) => sameJson(value, other)));
  if (added.length === 0 || a['x-extensible-enum'] === true || b['x-extensible-enum'] === true) return;
  report('response-enum-value-added', at, `may now send ${JSON.stringify(added)}`);
}

function compareRequestBounds(a: JsonObject, b: JsonObject, at: string, report: Report): void {
  const tightened: string[] = [];
  const lowA = numericLower(a);
  const lowB = numericLower(b);
  if (
    lowB !== undefined &&
    (lowA === undefined ||
      lowB.value > lowA.value ||
      (lowB.value === lowA.value && lowB.exclusive && !lowA.exclusive))
  )
    tightened.push('minimum');
  const highA = numericUpper(a);
  const highB = numericUpper(b);
  if (
    highB !== undefined &&
    (highA === undefined ||
      highB.value < highA.value ||
      (highB.value === highA.value && highB.exclusive && !highA.exclusive))
  )
    tightened.push('maximum');
  for (const key of lowerBounds) {
    const before = numberOr(a[key], 0);
    const after = numberOr(b[key], 0);
    if (after > before) tightened.push(key);
  }
  for (const key of upperBounds) {
    const before = numberOr(a[key], Infinity);
    const after = numberOr(b[key], Infinity);
    if (after < before) tightened.push(key);
  }
  if (a.uniqueItems !== true && b.uniqueItems === true) tightened.push('uniqueItems');
  if (tightened.length > 0) report('request-constraint-tightened', at, `tighter ${tightened.join(', ')}`);
  if (typeof b.pattern === 'string' && b.pattern !== a.pattern)
    report('request-pattern-added', at, `must now match /${b.pattern}/`);
  if (
    a.additionalProperties !== false &&
    b.additionalProperties === false &&
    typesOf(b)?.has('object') === true
  )
    report('request-additional-properties-removed', at, 'unknown fields are now refused');
}

function compareProperties(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  seen: WeakMap<object, WeakSet<object>>,
): void {
  const propsA = isObject(a.properties) ? a.properties : {};
  const propsB = isObject(b.properties) ? b.properties : {};
  const requiredA = requiredSet(a, direction);
  const requiredB = requiredSet(b, direction);
  const prefix = at === '' ? '' : `${at}.`;
  if (direction === 'request') {
    for (const name of requiredB) {
      if (requiredA.has(name)) continue;
      if (Object.hasOwn(propsA, name))
        report('request-property-made-required', prefix + name, 'is now required');
      else report('request-property-added-required', prefix + name, 'new required field');
    }
  } else {
    for (const name of requiredA) {
      if (requiredB.has(name)) continue;
      if (Object.hasOwn(propsB, name))
        report('response-property-made-optional', prefix + name, 'is no longer always sent');
      else report('response-required-property-removed', prefix + name, 'required field removed');
    }
    for (const name of Object.keys(propsA)) {
      if (!requiredA.has(name) && !Object.hasOwn(propsB, name))
        report('response-optional-property-removed', prefix + name, 'optional field removed');
    }
  }
  for (const [name, schema] of Object.entries(propsA)) {
    const other = propsB[name];
    if (other !== undefined) compareSchemas(schema, other, direction, prefix + name, report, seen);
  }
}

function compareAlternatives(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  seen: WeakMap<object, WeakSet<object>>,
): void {
  for (const key of ['oneOf', 'anyOf'] as const) {
    const before = Array.isArray(a[key]) ? (a[key] as unknown[]) : undefined;
    const after = Array.isArray(b[key]) ? (b[key] as unknown[]) : undefined;
    if (before === undefined || after === undefined) continue;
    if (direction === 'response' && after.length > before.length)
      report(
        'response-oneof-branch-added',
        at,
        `${key} has ${after.length - before.length} new alternative(s)`,
      );
    if (direction === 'request' && after.length < before.length)
      report(
        'request-oneof-branch-removed',
        at,
        `${key} lost ${before.length - after.length} alternative(s)`,
      );
    if (after.length === before.length)
      for (let i = 0; i < before.length; i++)
        compareSchemas(before[i], after[i], direction, `${at}<${key}[${i}]>`, report, seen);
  }
}

/** Merges `allOf` members into one schema, so moving fields into a shared `$ref` is seen as no change. */
function flattenAllOf(schema: JsonObject, depth = 0): JsonObject {
  if (!Array.isArray(schema.allOf) || depth > 16) return schema;
  const merged: JsonObject = { ...schema };
  delete merged.allOf;
  const properties: JsonObject = isObject(schema.properties) ? { ...schema.properties } : {};
  const required = new Set<string>(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  for (const member of schema.allOf) {
    if (!isObject(member)) continue;
    const flat = flattenAllOf(member, depth + 1);
    if (isObject(flat.properties)) Object.assign(properties, flat.properties);
    if (Array.isArray(flat.required)) for (const name of flat.required as string[]) required.add(name);
    for (const [key, value] of Object.entries(flat)) {
      if (key !== 'properties' && key !== 'required' && merged[key] === undefined) merged[key] = value;
    }
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required];
  return merged;
}

function requiredSet(schema: JsonObject, direction: Direction): Set<string> {
  const names = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const properties = isObject(schema.properties) ? schema.properties : {};
  // A readOnly field is never sent by clients, a writeOnly one never sent back: neither counts on that side.
  const skip = direction === 'request' ? 'readOnly' : 'writeOnly';
  return new Set(names.filter((name) => !(isObject(properties[name]) && properties[name][skip] === true)));
}

/** The non-null types of a schema, or undefined when any type goes. */
function typesOf(schema: JsonObject): Set<string> | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type === 'null' ? new Set() : new Set([type]);
  if (Array.isArray(type))
    return new Set(type.filter((t): t is string => typeof t === 'string' && t !== 'null'));
  if (isObject(schema.properties)) return new Set(['object']);
  return undefined;
}

function isNullable(schema: JsonObject): boolean {
  if (schema.nullable === true) return true;
  if (schema.type === 'null') return true;
  return Array.isArray(schema.type) && schema.type.includes('null');
}

function covers(types: Set<string>, type: string): boolean {
  return types.has(type) || (type === 'integer' && types.has('number'));
}

function describeTypes(types: Set<string> | undefined): string {
  return types === undefined ? 'any' : [...types].join('|') || 'null';
}

function numericLower(schema: JsonObject): { value: number; exclusive: boolean } | undefined {
  // 3.1 gives exclusiveMinimum as a number, 3.0 as a flag on minimum.
  if (typeof schema.exclusiveMinimum === 'number') return { value: schema.exclusiveMinimum, exclusive: true };
  if (typeof schema.minimum === 'number')
    return { value: schema.minimum, exclusive: schema.exclusiveMinimum === true };
  return undefined;
}

function numericUpper(schema: JsonObject): { value: number; exclusive: boolean } | undefined {
  if (typeof schema.exclusiveMaximum === 'number') return { value: schema.exclusiveMaximum, exclusive: true };
  if (typeof schema.maximum === 'number')
    return { value: schema.maximum, exclusive: schema.exclusiveMaximum === true };
  return undefined;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a value is a plain JSON object. */
export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
