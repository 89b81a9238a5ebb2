import type { ErrorObject } from 'ajv';
import { pointerToDocPath } from './source-location.ts';
import { DURATION_PATTERN, SIZE_PATTERN } from './units.ts';

/** A schema violation in plain words, before it is given a file position. */
export interface SchemaIssue {
  path: (string | number)[];
  /** Locate the key rather than its value (unknown keys). */
  atKey: boolean;
  message: string;
}

/**
 * What each string pattern of the schema expects, in words. Keyed by the pattern source so a test
 * can check that every pattern in ConfigSchema has a phrase here.
 */
export const patternPhrases: Readonly<Record<string, string>> = {
  '^[^\\s:]+:[0-9]+$': 'a host:port address (e.g. 10.0.0.5:26379)',
  [DURATION_PATTERN]: 'a duration: a number followed by ms, s, m, h or d, such as 250ms, 5s or 1.5m',
  [SIZE_PATTERN]: 'a size: a whole number followed by b, kb, mb or gb, such as 512kb or 10mb',
  '^v?(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$':
    'a semantic version such as 1.4.0',
  '^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|TRACE|CONNECT)$':
    'an HTTP method in upper case, such as GET or POST',
  '^rediss?://': 'a redis:// or rediss:// URL',
  '^/': 'a string starting with "/"',
  '^([1-5]xx|[1-5][0-9][0-9])$': 'a status code such as 200 or a class such as 2xx',
  '^https?://': 'an http:// or https:// URL',
  '^https://': 'an https:// URL',
  '^(\\*\\.)?[A-Za-z0-9_.-]+$': 'a DNS name such as api.example.test, or a wildcard such as *.example.test',
  '^(sha256:[0-9A-Fa-f:]{64,95}|subject:.+|san:(DNS|email|URI|IP):.+)$':
    'sha256:FINGERPRINT, subject:DN (such as subject:CN=app, O=Shop) or san:TYPE:VALUE (such as san:DNS:app.example.test)',
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$':
    'letters, digits, ".", "_" or "-", starting with a letter or digit, at most 128 characters',
  '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$':
    'a name of letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64 characters',
  '^(header:[A-Za-z0-9-]+|cookie:[A-Za-z0-9_-]+|ip)$': 'header:NAME, cookie:NAME or ip',
  '^(global|consumer|ip|route|header:[A-Za-z0-9-]+)$': 'global, consumer, ip, route or header:NAME',
  '^(method|path|query|host|consumer|header:[A-Za-z0-9-]+)$':
    'method, path, query, host, consumer or header:NAME',
  '^[0-9]+$': 'a major version number such as "1"',
  '^[A-Za-z_][A-Za-z0-9_]*$': 'an identifier of letters, digits and "_", not starting with a digit',
  '^sha256:[0-9a-fA-F]{64}$': '"sha256:" followed by 64 hexadecimal digits',
  '^(admin|read|service:[a-z0-9][a-z0-9-]{0,62})$': '"admin", "read" or "service:" and a service name',
  '^[a-z0-9][a-z0-9-]{0,62}$': 'a name of lower-case letters, digits and "-", at most 63 characters',
  '^[a-z][a-z0-9-]{0,62}$':
    'a plugin name of lower-case letters, digits and "-", starting with a letter, at most 63 characters',
  '^[A-Za-z0-9-]+$': 'a header name of letters, digits and "-"',
  '^[A-Za-z0-9_.:-]{1,64}$': 'a claim name of letters, digits, "_", ".", ":" or "-", at most 64 characters',
  '^[A-Za-z0-9_.-]+$': 'a query parameter name of letters, digits, "_", "." or "-"',
  '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$':
    'letters, digits, ".", "_", ":", "@" or "-", starting with a letter or digit, at most 128 characters',
  '^[\\x21-\\x7e]+$': 'visible ASCII characters without spaces',
  '^(\\*|https?://[^/\\s]+)$': 'an origin such as https://shop.example.test (no path), or "*"',
};

/** The parts of a JSON Schema the translation looks at. */
export interface SchemaLike {
  type?: string;
  const?: unknown;
  anyOf?: SchemaLike[];
  pattern?: string;
  description?: string;
  minimum?: number;
  maximum?: number;
  items?: SchemaLike;
  properties?: Record<string, SchemaLike>;
  patternProperties?: Record<string, SchemaLike>;
}

/**
 * Turns ajv errors (compiled with `allErrors` and `verbose`) into one plain message per problem:
 * union noise collapses into a single "expected one of" or into the errors of the one branch whose
 * type matches, and no node gets the same message twice.
 */
export function translateSchemaErrors(errors: readonly ErrorObject[], data: unknown): SchemaIssue[] {
  let remaining = [...errors];
  const unionMessages = new Map<ErrorObject, string>();
  const unions = remaining
    .filter((e) => e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (!remaining.includes(union)) continue;
    const branches = (union.schema as SchemaLike[] | undefined) ?? [];
    const prefix = `${union.schemaPath}/`;
    // List items share schema paths, so a branch error belongs to this union only at or below its value.
    const within = (e: ErrorObject, schemaPrefix: string) =>
      e.schemaPath.startsWith(schemaPrefix) &&
      (e.instancePath === union.instancePath || e.instancePath.startsWith(`${union.instancePath}/`));
    const composite = union.data !== null && typeof union.data === 'object';
    const fitting = branches.flatMap((b, i) => (typeFits(b, union.data) ? [i] : []));
    const chosen = fitting[0];
    if (composite && fitting.length === 1 && chosen !== undefined) {
      // The value is clearly meant as this branch: its own errors are the useful ones.
      const keep = `${prefix}${chosen}/`;
      remaining = remaining.filter((e) => e !== union && (!within(e, prefix) || within(e, keep)));
    } else {
      remaining = remaining.filter((e) => !within(e, prefix));
      unionMessages.set(union, `expected ${describeAlternatives(branches)} (got ${summarize(union.data)})`);
    }
  }

  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  for (const error of remaining) {
    const issue = toIssue(error, data, unionMessages.get(error));
    const id = `${JSON.stringify(issue.path)} ${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push(issue);
  }
  return issues;
}

function toIssue(error: ErrorObject, data: unknown, unionMessage: string | undefined): SchemaIssue {
  const path = pointerToDocPath(error.instancePath, data);
  const parent = (error.parentSchema ?? {}) as SchemaLike;
  const params = error.params as Record<string, unknown>;
  const got = ` (got ${summarize(error.data)})`;
  const at = (message: string, atKey = false): SchemaIssue => ({ path, atKey, message });
  switch (error.keyword) {
    case 'anyOf':
      return at(unionMessage ?? `expected one of the accepted forms${got}`);
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      path.push(key);
      const keyPatterns = Object.keys(parent.patternProperties ?? {});
      if (keyPatterns.length > 0 && parent.properties === undefined) {
        const expected = keyPatterns.map((p) => patternPhrases[p] ?? `a key matching /${p}/`).join(' or ');
        return at(`invalid key "${key}": expected ${expected}`, true);
      }
      const suggestion = closest(key, Object.keys(parent.properties ?? {}));
      return at(
        `unknown key "${key}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
        true,
      );
    }
    case 'required':
      return at(`missing required key "${String(params.missingProperty)}"`);
    case 'type':
      return at(`expected ${describeSchema(parent)}${got}`);
    case 'pattern': {
      const pattern = String(params.pattern);
      const phrase = patternPhrases[pattern] ?? parent.description ?? `a string matching /${pattern}/`;
      return at(`expected ${phrase}${got}`);
    }
    case 'format':
      return at(
        params.format === 'date'
          ? `expected a date such as 2026-06-01 (YYYY-MM-DD)${got}`
          : `expected a ${String(params.format)}${got}`,
      );
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return at(`expected ${describeNumber(parent)}${got}`);
    case 'minLength':
      return at(`expected at least ${String(params.limit)} characters`);
    case 'maxLength':
      return at(`expected at most ${String(params.limit)} characters`);
    case 'minItems':
      return at(`expected at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`);
    case 'maxItems':
      return at(`expected at most ${String(params.limit)} items`);
    case 'const':
      return at(`expected ${JSON.stringify(params.allowedValue)}${got}`);
    case 'enum':
      return at(
        `expected one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got}`,
      );
    default:
      return at(error.message ?? 'is invalid');
  }
}

function typeFits(schema: SchemaLike, value: unknown): boolean {
  if (schema.anyOf !== undefined) return schema.anyOf.some((b) => typeFits(b, value));
  if (schema.const !== undefined) return value === schema.const;
  switch (schema.type) {
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    default:
      return true;
  }
}

/** Describes the forms a union accepts, e.g. `one of "round-robin", "weighted"`. */
export function describeAlternatives(branches: readonly SchemaLike[]): string {
  const forms = flattenBranches(branches).map(describeSchema);
  const unique = [...new Set(forms)];
  if (unique.length === 1) return unique[0] ?? 'a valid value';
  return `one of ${unique.join(', ')}`;
}

function flattenBranches(branches: readonly SchemaLike[]): SchemaLike[] {
  return branches.flatMap((b) => (b.anyOf === undefined ? [b] : flattenBranches(b.anyOf)));
}

/** A short phrase for what a schema accepts, e.g. `a list of "jwt" or "apiKey"`. */
export function describeSchema(schema: SchemaLike): string {
  if (schema.anyOf !== undefined) return describeAlternatives(schema.anyOf);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.pattern !== undefined)
    return patternPhrases[schema.pattern] ?? `a string matching /${schema.pattern}/`;
  switch (schema.type) {
    case 'integer':
    case 'number':
      return describeNumber(schema);
    case 'array':
      if (schema.items === undefined) return 'a list';
      return schema.items.anyOf === undefined
        ? `a list of ${plural(describeSchema(schema.items))}`
        : `a list whose items are each ${describeAlternatives(schema.items.anyOf)}`;
    case 'object':
      return schema.properties === undefined ? 'a mapping' : 'an object';
    case undefined:
      return 'any value';
    default:
      return typeWord(schema.type);
  }
}

function plural(phrase: string): string {
  const word = /^an? ([a-z]+)$/.exec(phrase)?.[1];
  return word === undefined ? phrase.replace(/^one of /, '').replace(/^an? /, '') : `${word}s`;
}

function describeNumber(schema: SchemaLike): string {
  const word = typeWord(schema.type ?? 'number');
  const { minimum: min, maximum: max } = schema;
  if (min !== undefined && max !== undefined) return `${word} from ${min} to ${max}`;
  if (min !== undefined) return `${word} of at least ${min}`;
  if (max !== undefined) return `${word} of at most ${max}`;
  return word;
}

function typeWord(type: string): string {
  const words: Record<string, string> = {
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    object: 'an object',
    array: 'a list',
    null: 'nothing',
  };
  return type
    .split(',')
    .map((t) => words[t] ?? t)
    .join(' or ');
}

/** A short rendering of a found value for messages. */
export function summarize(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return String(value);
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost);
    }
    row = next;
  }
  return row[b.length] ?? 0;
}
