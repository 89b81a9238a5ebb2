import type { JsonObject } from '../contract.ts';
import { diffRules, type DiffRuleId } from './rules.ts';

/** Which side of the exchange a schema describes: requests may not narrow, responses may not widen. */
export type Direction = 'request' | 'response';

/** Receives each difference found; `at` is a readable location such as `body.user.email`. */
export type Report = (rule: DiffRuleId, at: string, message: string) => void;

/** What one comparison of two documents shares across its schemas. */
export interface CompareContext {
  /** Epoch ms, for `x-sunset` dates. */
  readonly now: number;
  /**
   * Resolved documents may be cyclic (a tree node that holds its children), so each pair of objects is compared
   * once per context.
   */
  readonly seen: WeakMap<object, WeakSet<object>>;
  /** How many trial comparisons of composition branches enclose this one (bounded: branches nest). */
  readonly depth: number;
  /** Trial comparisons left for the whole document pair, so nested compositions cannot explode. */
  readonly budget: { trials: number };
}

interface Finding {
  readonly rule: DiffRuleId;
  readonly at: string;
  readonly message: string;
}

const MAX_TRIAL_DEPTH = 4;
const MAX_TRIALS = 20_000;

/** A fresh context for comparing two documents. */
export function createCompareContext(now: number): CompareContext {
  return { now, seen: new WeakMap(), depth: 0, budget: { trials: MAX_TRIALS } };
}

/**
 * Compares two resolved JSON Schemas (OpenAPI 3.0 or 3.1 / JSON Schema 2020-12) and reports every difference that
 * narrows a request or widens a response.
 */
export function compareSchemas(
  before: unknown,
  after: unknown,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  if (!isObject(before) || !isObject(after)) return;
  let pairs = ctx.seen.get(before);
  if (pairs?.has(after) === true) return;
  if (pairs === undefined) ctx.seen.set(before, (pairs = new WeakSet()));
  pairs.add(after);
  const a = normalise(before);
  const b = normalise(after);
  const altA = alternativesOf(a);
  const altB = alternativesOf(b);
  if ((altA === undefined) !== (altB === undefined)) {
    compareWrapping(a, b, altA, altB, direction, at, report, ctx);
    return;
  }
  compareTypes(a, b, direction, at, report);
  compareNullable(a, b, direction, at, report);
  compareEnums(a, b, direction, at, report);
  compareBounds(a, b, direction, at, report);
  comparePatterns(a, b, direction, at, report);
  compareStringContent(a, b, direction, at, report, ctx);
  compareProperties(a, b, direction, at, report, ctx);
  compareObjectKeywords(a, b, direction, at, report, ctx);
  compareArrayKeywords(a, b, direction, at, report, ctx);
  compareConditionals(a, b, direction, at, report, ctx);
  compareDiscriminators(a, b, direction, at, report);
  if (altA !== undefined && altB !== undefined) {
    if (altA.key !== altB.key) compareExclusivity(a, b, altA, altB, direction, at, report);
    compareAlternatives(altA, altB, direction, at, report, ctx);
  }
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

/** `enum`, `const` and `x-extensible-enum: [..]` are the same promise: a closed list of values. */
function enumOf(schema: JsonObject): unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum.filter((value) => value !== null);
  if (schema.const !== undefined) return [schema.const];
  if (Array.isArray(schema['x-extensible-enum'])) return schema['x-extensible-enum'] as unknown[];
  return undefined;
}

function compareEnums(a: JsonObject, b: JsonObject, direction: Direction, at: string, report: Report): void {
  const before = enumOf(a);
  const after = enumOf(b);
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
  if (before === undefined) return;
  const added = after?.filter((value) => !before.some((other) => sameJson(value, other)));
  if (a.const !== undefined && (added === undefined || added.length > 0)) {
    report(
      'response-const-changed',
      at,
      after === undefined ? 'is no longer fixed' : `may now be ${JSON.stringify(added)}`,
    );
    return;
  }
  if (isExtensible(a) || isExtensible(b)) return;
  if (added === undefined) report('response-enum-value-added', at, 'is no longer limited to a list');
  else if (added.length > 0) report('response-enum-value-added', at, `may now send ${JSON.stringify(added)}`);
}

function isExtensible(schema: JsonObject): boolean {
  const mark = schema['x-extensible-enum'];
  return mark === true || Array.isArray(mark);
}

const lowerBounds = ['minLength', 'minItems', 'minProperties', 'minContains'] as const;
const upperBounds = ['maxLength', 'maxItems', 'maxProperties', 'maxContains'] as const;

/** The bounds in which `y` accepts fewer values than `x`. */
function tighterBounds(x: JsonObject, y: JsonObject): string[] {
  const tighter: string[] = [];
  const lowX = numericLower(x);
  const lowY = numericLower(y);
  if (
    lowY !== undefined &&
    (lowX === undefined ||
      lowY.value > lowX.value ||
      (lowY.value === lowX.value && lowY.exclusive && !lowX.exclusive))
  )
    tighter.push('minimum');
  const highX = numericUpper(x);
  const highY = numericUpper(y);
  if (
    highY !== undefined &&
    (highX === undefined ||
      highY.value < highX.value ||
      (highY.value === highX.value && highY.exclusive && !highX.exclusive))
  )
    tighter.push('maximum');
  for (const key of lowerBounds) {
    // minContains counts only beside contains, where its default is 1.
    const floor = key === 'minContains' ? 1 : 0;
    if (numberOr(y[key], floor) > numberOr(x[key], floor)) tighter.push(key);
  }
  for (const key of upperBounds)
    if (numberOr(y[key], Infinity) < numberOr(x[key], Infinity)) tighter.push(key);
  if (x.uniqueItems !== true && y.uniqueItems === true) tighter.push('uniqueItems');
  if (
    typeof y.multipleOf === 'number' &&
    // The new bound keeps every old value only when each old multiple is also a new one.
    (typeof x.multipleOf !== 'number' || !isMultiple(x.multipleOf, y.multipleOf))
  )
    tighter.push('multipleOf');
  return tighter;
}

function compareBounds(a: JsonObject, b: JsonObject, direction: Direction, at: string, report: Report): void {
  if (direction === 'request') {
    const tightened = tighterBounds(a, b);
    if (tightened.length > 0) report('request-constraint-tightened', at, `tighter ${tightened.join(', ')}`);
    return;
  }
  const loosened = tighterBounds(b, a);
  if (loosened.length > 0) report('response-constraint-loosened', at, `looser ${loosened.join(', ')}`);
}

function comparePatterns(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
): void {
  const before = patternOf(a);
  const after = patternOf(b);
  if (before === after) return;
  if (direction === 'request') {
    if (after !== undefined) report('request-pattern-added', at, `must now match /${after}/`);
    return;
  }
  if (before === undefined) return;
  if (after === undefined) report('response-pattern-removed', at, `no longer always matches /${before}/`);
  else report('response-pattern-changed', at, `pattern /${before}/ became /${after}/`);
}

/** The pattern of a schema, or undefined when it has none or one that matches every string. */
function patternOf(schema: JsonObject): string | undefined {
  if (typeof schema.pattern !== 'string') return undefined;
  const core = schema.pattern.replace(/^\^/, '').replace(/\$$/, '');
  return matchEverything.has(core) ? undefined : schema.pattern;
}

const matchEverything: ReadonlySet<string> = new Set([
  '',
  '.*',
  '.*?',
  '(.*)',
  '(?:.*)',
  '[\\s\\S]*',
  '[\\S\\s]*',
  '[^]*',
]);

function compareStringContent(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const changed = (['contentMediaType', 'contentEncoding'] as const)
    .filter((key) => a[key] !== b[key])
    .map((key) => `${key} ${String(a[key] ?? 'none')} → ${String(b[key] ?? 'none')}`);
  if (changed.length > 0) report('string-content-changed', at, changed.join(', '));
  if (isObject(a.contentSchema) || isObject(b.contentSchema))
    compareSchemas(a.contentSchema ?? {}, b.contentSchema ?? {}, direction, `${at}<content>`, report, ctx);
}

function compareProperties(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
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
    }
  }
  for (const [name, schema] of Object.entries(propsA)) {
    if (Object.hasOwn(propsB, name)) continue;
    const sunset = sunsetOf(schema, ctx.now);
    const where = prefix + name;
    if (sunset === 'past') report('property-removed-after-sunset', where, 'removed after its sunset date');
    else if (direction === 'request') {
      if (sunset === 'future')
        report('request-property-removed-before-sunset', where, 'removed before its sunset date');
      else if (b.additionalProperties === false || b.unevaluatedProperties === false)
        report('request-property-refused', where, 'removed, and unknown fields are refused');
      else report('request-property-removed', where, 'no longer described');
    } else if (sunset === 'future')
      report('response-property-removed-before-sunset', where, 'removed before its sunset date');
    // A field still listed as required is still sent, schema or not.
    else if (requiredB.has(name)) continue;
    else if (requiredA.has(name))
      report('response-required-property-removed', where, 'required field removed');
    else report('response-optional-property-removed', where, 'optional field removed');
  }
  for (const [name, schema] of Object.entries(propsA)) {
    const other = propsB[name];
    if (other === undefined) continue;
    if (isObject(schema) && isObject(other) && schema.deprecated !== true && other.deprecated === true)
      report('deprecated-added', prefix + name, 'is now deprecated');
    compareSchemas(schema, other, direction, prefix + name, report, ctx);
  }
}

/** additionalProperties, unevaluatedProperties, patternProperties, propertyNames, dependent keywords. */
function compareObjectKeywords(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  if (
    direction === 'request' &&
    a.additionalProperties !== false &&
    b.additionalProperties === false &&
    typesOf(b)?.has('object') === true
  )
    report('request-additional-properties-removed', at, 'unknown fields are now refused');
  if (isObject(a.additionalProperties) && isObject(b.additionalProperties))
    compareSchemas(a.additionalProperties, b.additionalProperties, direction, `${at}{}`, report, ctx);
  for (const key of ['unevaluatedProperties', 'unevaluatedItems'] as const) {
    const before = a[key];
    const after = b[key];
    if (
      direction === 'request' &&
      (before === undefined || before === true) &&
      after !== undefined &&
      after !== true
    )
      report('request-unevaluated-restricted', at, `${key} now restricts what may be sent`);
    if (isObject(before) && isObject(after))
      compareSchemas(before, after, direction, `${at}<${key}>`, report, ctx);
  }
  const patternsA = isObject(a.patternProperties) ? a.patternProperties : {};
  const patternsB = isObject(b.patternProperties) ? b.patternProperties : {};
  for (const [pattern, schema] of Object.entries(patternsB)) {
    if (Object.hasOwn(patternsA, pattern))
      compareSchemas(patternsA[pattern], schema, direction, `${at}{/${pattern}/}`, report, ctx);
    else if (direction === 'request')
      report('request-pattern-properties-added', at, `fields matching /${pattern}/ are now constrained`);
  }
  if (direction === 'response')
    for (const pattern of Object.keys(patternsA))
      if (!Object.hasOwn(patternsB, pattern))
        report(
          'response-pattern-properties-removed',
          at,
          `fields matching /${pattern}/ may now hold anything`,
        );
  if (isObject(a.propertyNames) || isObject(b.propertyNames))
    compareSchemas(a.propertyNames ?? {}, b.propertyNames ?? {}, direction, `${at}{names}`, report, ctx);
  const dependentA = isObject(a.dependentRequired) ? a.dependentRequired : {};
  const dependentB = isObject(b.dependentRequired) ? b.dependentRequired : {};
  const [wider, narrower] = direction === 'request' ? [dependentA, dependentB] : [dependentB, dependentA];
  for (const [name, list] of Object.entries(narrower)) {
    const had = new Set(Array.isArray(wider[name]) ? (wider[name] as unknown[]) : []);
    const extra = (Array.isArray(list) ? list : []).filter((entry) => !had.has(entry));
    if (extra.length === 0) continue;
    if (direction === 'request')
      report(
        'request-dependent-required-added',
        at,
        `with ${name}, ${JSON.stringify(extra)} are now required`,
      );
    else
      report(
        'response-dependent-required-removed',
        at,
        `with ${name}, ${JSON.stringify(extra)} may be missing`,
      );
  }
  const schemasA = isObject(a.dependentSchemas) ? a.dependentSchemas : {};
  const schemasB = isObject(b.dependentSchemas) ? b.dependentSchemas : {};
  for (const [name, schema] of Object.entries(schemasB)) {
    if (Object.hasOwn(schemasA, name))
      compareSchemas(schemasA[name], schema, direction, `${at}<dependentSchemas.${name}>`, report, ctx);
    else if (direction === 'request')
      report('request-dependent-schema-added', at, `objects with ${name} are now constrained further`);
  }
  if (direction === 'response')
    for (const name of Object.keys(schemasA))
      if (!Object.hasOwn(schemasB, name))
        report('response-dependent-schema-removed', at, `objects with ${name} are no longer constrained`);
}

/** items, prefixItems (position by position), contains. */
function compareArrayKeywords(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const prefixA = Array.isArray(a.prefixItems) ? (a.prefixItems as unknown[]) : [];
  const prefixB = Array.isArray(b.prefixItems) ? (b.prefixItems as unknown[]) : [];
  // Past its prefixItems, an array's items apply; without prefixItems they apply from the first position.
  for (let i = 0; i < Math.max(prefixA.length, prefixB.length); i++) {
    const before = i < prefixA.length ? prefixA[i] : (a.items ?? {});
    const after = i < prefixB.length ? prefixB[i] : (b.items ?? {});
    compareSchemas(before, after, direction, `${at}[${i}]`, report, ctx);
  }
  if (isObject(a.items) && isObject(b.items))
    compareSchemas(a.items, b.items, direction, `${at}[]`, report, ctx);
  if (direction === 'request' && b.contains !== undefined && a.contains === undefined)
    report('request-contains-added', at, 'must now contain a matching item');
  if (direction === 'response' && a.contains !== undefined && b.contains === undefined)
    report('response-contains-removed', at, 'no longer promises a matching item');
  if (isObject(a.contains) && isObject(b.contains))
    compareSchemas(a.contains, b.contains, direction, `${at}<contains>`, report, ctx);
}

/** if/then/else and not. */
function compareConditionals(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const hadIf = a.if !== undefined;
  const hasIf = b.if !== undefined;
  const sameIf = hadIf && hasIf && sameJson(a.if, b.if);
  if (direction === 'request' && hasIf && !sameIf)
    report('request-conditional-added', at, hadIf ? 'the if condition changed' : 'if/then/else added');
  if (direction === 'response' && hadIf && !sameIf)
    report('response-conditional-removed', at, hasIf ? 'the if condition changed' : 'if/then/else removed');
  if (sameIf)
    for (const key of ['then', 'else'] as const)
      if (a[key] !== undefined || b[key] !== undefined)
        compareSchemas(a[key] ?? {}, b[key] ?? {}, direction, `${at}<${key}>`, report, ctx);
  // Whether a changed `not` lets more or fewer values through cannot be told in general: it counts both ways.
  const sameNot = a.not !== undefined && b.not !== undefined && sameJson(a.not, b.not);
  if (direction === 'request' && b.not !== undefined && !sameNot)
    report(
      'request-not-added',
      at,
      a.not === undefined ? 'now excludes values matching "not"' : '"not" changed',
    );
  if (direction === 'response' && a.not !== undefined && !sameNot)
    report(
      'response-not-removed',
      at,
      b.not === undefined ? 'values "not" excluded may now be sent' : '"not" changed',
    );
}

function compareDiscriminators(
  a: JsonObject,
  b: JsonObject,
  direction: Direction,
  at: string,
  report: Report,
): void {
  const had = isObject(a.discriminator);
  const has = isObject(b.discriminator);
  if (!had && has && direction === 'request')
    report('request-discriminator-added', at, `the branch is now chosen by ${describeDiscriminator(b)}`);
  if (had && !has && direction === 'response')
    report('response-discriminator-removed', at, `${describeDiscriminator(a)} no longer names the branch`);
  if (!isObject(a.discriminator) || !isObject(b.discriminator)) return;
  if (a.discriminator.propertyName !== b.discriminator.propertyName)
    report(
      'discriminator-property-changed',
      at,
      `discriminator ${String(a.discriminator.propertyName)} became ${String(b.discriminator.propertyName)}`,
    );
  if (!isObject(a.discriminator.mapping) || !isObject(b.discriminator.mapping)) return;
  const before = a.discriminator.mapping;
  const after = b.discriminator.mapping;
  for (const [value, target] of Object.entries(before)) {
    if (!Object.hasOwn(after, value)) {
      if (direction === 'request')
        report('request-discriminator-mapping-removed', at, `${value} is no longer accepted`);
    } else if (after[value] !== target)
      report('discriminator-mapping-changed', at, `${value} now means ${String(after[value])}`);
  }
  if (direction === 'response')
    for (const value of Object.keys(after))
      if (!Object.hasOwn(before, value))
        report('response-discriminator-mapping-added', at, `may now send ${value}`);
}

function describeDiscriminator(schema: JsonObject): string {
  const discriminator = schema.discriminator;
  return isObject(discriminator) && typeof discriminator.propertyName === 'string'
    ? `property ${discriminator.propertyName}`
    : 'a discriminator';
}

/**
 * `anyOf` accepts a value matching several branches, `oneOf` refuses it. That only matters when the branches
 * can overlap: branches of distinct types, told apart by a `const` property or by a discriminator cannot.
 */
function compareExclusivity(
  a: JsonObject,
  b: JsonObject,
  altA: Alternatives,
  altB: Alternatives,
  direction: Direction,
  at: string,
  report: Report,
): void {
  if (direction === 'request' && altB.key === 'oneOf' && !disjoint(b, altB.branches))
    report('request-composition-made-exclusive', at, 'a value matching several alternatives is now refused');
  if (direction === 'response' && altA.key === 'oneOf' && !disjoint(a, altA.branches))
    report('response-composition-made-inclusive', at, 'an answer may now match several alternatives');
}

/** Whether no value can match two of the branches, as far as their types, `const` properties or discriminator tell. */
function disjoint(schema: JsonObject, branches: readonly JsonObject[]): boolean {
  if (branches.length < 2 || isObject(schema.discriminator)) return true;
  if (branches.filter(isNullable).length > 1) return false;
  const types = branches.map(typesOf);
  if (types.every((set) => set !== undefined)) {
    const seen = new Set<string>();
    let overlap = false;
    for (const set of types as Set<string>[]) {
      for (const type of set) {
        const widened = type === 'integer' ? 'number' : type;
        if (seen.has(widened) || (widened === 'number' && seen.has('integer'))) overlap = true;
      }
      for (const type of set) seen.add(type);
    }
    if (!overlap) return true;
  }
  // A property every branch requires, with one fixed value per branch, all different.
  const first = branches[0] as JsonObject;
  for (const name of Array.isArray(first.required) ? (first.required as unknown[]) : []) {
    if (typeof name !== 'string') continue;
    const values = branches.map((branch) => fixedValueOf(branch, name));
    if (values.every((value) => value !== undefined) && new Set(values).size === branches.length) return true;
  }
  return false;
}

/** The one value a required property may take in a branch, as JSON text; undefined when it is not fixed. */
function fixedValueOf(branch: JsonObject, name: string): string | undefined {
  if (!Array.isArray(branch.required) || !branch.required.includes(name)) return undefined;
  const property = isObject(branch.properties) ? branch.properties[name] : undefined;
  if (!isObject(property)) return undefined;
  if (Object.hasOwn(property, 'const')) return JSON.stringify(property.const);
  if (Array.isArray(property.enum) && property.enum.length === 1) return JSON.stringify(property.enum[0]);
  return undefined;
}

interface Alternatives {
  readonly key: 'oneOf' | 'anyOf';
  /** Each branch with the keywords of the schema around it merged in (they apply to every branch). */
  readonly branches: JsonObject[];
}

function alternativesOf(schema: JsonObject): Alternatives | undefined {
  const key = Array.isArray(schema.oneOf) ? 'oneOf' : Array.isArray(schema.anyOf) ? 'anyOf' : undefined;
  if (key === undefined) return undefined;
  return { key, branches: (schema[key] as unknown[]).filter(isObject) };
}

/** The branches with the keywords of the schema around them merged in (they apply to every branch). */
function withOuterKeywords(schema: JsonObject, alternatives: Alternatives): Alternatives {
  const outer: JsonObject = { ...schema };
  delete outer[alternatives.key];
  delete outer.discriminator;
  if (Object.keys(outer).length === 0) return alternatives;
  return {
    key: alternatives.key,
    branches: alternatives.branches.map((branch) => flattenAllOf({ allOf: [outer, branch] })),
  };
}

/**
 * One side is a oneOf/anyOf, the other a plain schema: the plain one is compared with each branch, never with
 * the wrapper as a whole (a wrapper without its own `type` would otherwise read as "anything" and hide breaks).
 */
function compareWrapping(
  a: JsonObject,
  b: JsonObject,
  wrappedBefore: Alternatives | undefined,
  wrappedAfter: Alternatives | undefined,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const outOfTrials = ctx.budget.trials <= 0 || ctx.depth >= MAX_TRIAL_DEPTH;
  if (wrappedAfter !== undefined) {
    const alt = withOuterKeywords(b, wrappedAfter);
    report('schema-wrapped', at, `became a ${alt.key} of ${alt.branches.length}`);
    if (outOfTrials) {
      comparePositionally({ key: alt.key, branches: [a] }, alt, direction, at, report, ctx);
      return;
    }
    // Requests: what the old schema accepted must fit some branch. Responses: every branch must fit the old one.
    if (direction === 'request') coveredBySome(a, alt.branches, true, direction, at, report, ctx);
    else eachCovered(alt.branches, a, false, direction, at, report, ctx);
  } else if (wrappedBefore !== undefined) {
    const alt = withOuterKeywords(a, wrappedBefore);
    report('schema-unwrapped', at, `is no longer a ${alt.key}`);
    if (outOfTrials) {
      comparePositionally(alt, { key: alt.key, branches: [b] }, direction, at, report, ctx);
      return;
    }
    if (direction === 'request') eachCovered(alt.branches, b, true, direction, at, report, ctx);
    else coveredBySome(b, alt.branches, false, direction, at, report, ctx);
  }
}

function compareAlternatives(
  altA: Alternatives,
  altB: Alternatives,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  if (ctx.budget.trials <= 0 || ctx.depth >= MAX_TRIAL_DEPTH) {
    comparePositionally(altA, altB, direction, at, report, ctx);
    return;
  }
  // Requests: each old branch must still be accepted by some new one. Responses: each new branch must be one
  // clients already handle.
  const [from, to, fromIsOld] =
    direction === 'request' ? [altA.branches, altB.branches, true] : [altB.branches, altA.branches, false];
  let missing = 0;
  for (const branch of from) {
    const best = bestMatch(branch, to, fromIsOld, direction, at, ctx);
    if (best === undefined || cost(best.findings) === 0) continue;
    // With fewer branches on the covering side, an uncovered branch is an alternative that left (or came).
    if (to.length < from.length) missing++;
    else replay(best.findings, report);
  }
  if (missing === 0) return;
  if (direction === 'request')
    report('request-oneof-branch-removed', at, `${altA.key} lost ${missing} alternative(s)`);
  else report('response-oneof-branch-added', at, `${altB.key} has ${missing} new alternative(s)`);
}

/**
 * Out of trials: branches are paired by position and the counts compared, which costs nothing extra and still
 * reports what it sees.
 */
function comparePositionally(
  altA: Alternatives,
  altB: Alternatives,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const lost = altA.branches.length - altB.branches.length;
  if (direction === 'request' && lost > 0)
    report('request-oneof-branch-removed', at, `${altA.key} lost ${lost} alternative(s)`);
  if (direction === 'response' && lost < 0)
    report('response-oneof-branch-added', at, `${altB.key} has ${-lost} new alternative(s)`);
  for (let i = 0; i < Math.min(altA.branches.length, altB.branches.length); i++)
    compareSchemas(altA.branches[i], altB.branches[i], direction, `${at}<${i}>`, report, ctx);
}

/** `single` must be covered by one of `branches`: the closest branch's differences are reported. */
function coveredBySome(
  single: JsonObject,
  branches: JsonObject[],
  singleIsOld: boolean,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const best = bestMatch(single, branches, singleIsOld, direction, at, ctx);
  if (best !== undefined) replay(best.findings, report);
}

/** Every branch must be covered by `single`; a branch that is not is an alternative gained or lost. */
function eachCovered(
  branches: JsonObject[],
  single: JsonObject,
  branchesAreOld: boolean,
  direction: Direction,
  at: string,
  report: Report,
  ctx: CompareContext,
): void {
  const results = branches.map((branch, i) =>
    trial(branchesAreOld ? branch : single, branchesAreOld ? single : branch, direction, `${at}<${i}>`, ctx),
  );
  const failing = results.filter((findings) => cost(findings) > 0);
  if (failing.length === 0) return;
  if (branches.length === 1 || failing.length === branches.length) {
    const closest = failing.reduce((x, y) => (cost(y) < cost(x) ? y : x));
    replay(closest, report);
    if (branches.length === 1) return;
    failing.splice(failing.indexOf(closest), 1);
    if (failing.length === 0) return;
  }
  if (direction === 'request')
    report('request-oneof-branch-removed', at, `${failing.length} old alternative(s) are no longer accepted`);
  else report('response-oneof-branch-added', at, `${failing.length} new alternative(s) clients do not know`);
}

function bestMatch(
  single: JsonObject,
  branches: JsonObject[],
  singleIsOld: boolean,
  direction: Direction,
  at: string,
  ctx: CompareContext,
): { findings: Finding[] } | undefined {
  let best: { findings: Finding[]; cost: number } | undefined;
  for (let i = 0; i < branches.length; i++) {
    const branch = branches[i] as JsonObject;
    const findings = trial(
      singleIsOld ? single : branch,
      singleIsOld ? branch : single,
      direction,
      `${at}<${i}>`,
      ctx,
    );
    const c = cost(findings);
    if (best === undefined || c < best.cost) best = { findings, cost: c };
    if (c === 0) break;
  }
  return best;
}

/**
 * Compares two branches on the side, so the closest one can be chosen before anything is reported. Trials nest
 * with compositions; past a depth or a count per document pair, branches are taken as matching rather than
 * risking exponential work on a hostile or huge document.
 */
function trial(
  before: JsonObject,
  after: JsonObject,
  direction: Direction,
  at: string,
  ctx: CompareContext,
): Finding[] {
  ctx.budget.trials--;
  const findings: Finding[] = [];
  const collect: Report = (rule, where, message) => findings.push({ rule, at: where, message });
  compareSchemas(before, after, direction, at, collect, {
    now: ctx.now,
    seen: new WeakMap(),
    depth: ctx.depth + 1,
    budget: ctx.budget,
  });
  return findings;
}

function cost(findings: Finding[]): number {
  let total = 0;
  for (const finding of findings) {
    const severity = diffRules[finding.rule].severity;
    if (severity === 'breaking') total += 1000;
    else if (severity === 'warning' || finding.rule === 'request-property-removed') total += 1;
  }
  return total;
}

function replay(findings: Finding[], report: Report): void {
  for (const finding of findings) report(finding.rule, finding.at, finding.message);
}

/**
 * One shape for equivalent spellings: `allOf` members merged (moving fields into a shared `$ref` is no change), a
 * oneOf/anyOf of one schema and `null` read as that schema made nullable, Swagger's `x-nullable` as `nullable`.
 */
function normalise(schema: JsonObject): JsonObject {
  let out = flattenAllOf(schema);
  for (const key of ['oneOf', 'anyOf'] as const) {
    const list = out[key];
    if (!Array.isArray(list)) continue;
    const others = list.filter((branch) => !isNullSchema(branch));
    if (others.length !== 1 || others.length === list.length || !isObject(others[0])) continue;
    const rest: JsonObject = { ...out };
    delete rest[key];
    out = flattenAllOf({ allOf: [rest, others[0]] });
    out.nullable = true;
  }
  if (out['x-nullable'] === true && out.nullable !== true) out = { ...out, nullable: true };
  return out;
}

function isNullSchema(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  if (schema.type === 'null') return true;
  return (
    schema.const === null ||
    (Array.isArray(schema.enum) && schema.enum.length === 1 && schema.enum[0] === null)
  );
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

/** Whether a deprecated parameter, property or operation announced a sunset, and whether it has passed. */
export function sunsetOf(node: unknown, now: number): 'none' | 'future' | 'past' {
  if (!isObject(node) || node.deprecated !== true) return 'none';
  const sunset = node['x-sunset'];
  const when = typeof sunset === 'string' ? Date.parse(sunset) : NaN;
  if (Number.isNaN(when)) return 'none';
  return when <= now ? 'past' : 'future';
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

/** Whether every multiple of `value` is a multiple of `of` (within float error). */
function isMultiple(value: number, of: number): boolean {
  const ratio = value / of;
  return Math.abs(ratio - Math.round(ratio)) < 1e-9;
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
