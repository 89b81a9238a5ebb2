import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, type Document, type Scalar } from 'yaml';
import type { DocPath } from './source-location.ts';

/** Where `${...}` references take their values from. */
export interface InterpolationSources {
  env: Record<string, string | undefined>;
  /** Reads a secret file; relative paths are already resolved against the configuration's folder. */
  readFile?: (path: string) => string;
  /** Folder that relative `${file:...}` paths are resolved against. */
  baseDir?: string;
}

/** A reference that could not be replaced, at an offset in the original text. */
export interface InterpolationProblem {
  offset: number;
  message: string;
}

/** What interpolating a parsed document found. */
export interface DocumentInterpolation {
  problems: InterpolationProblem[];
  /** Paths of values that took any part from a secret file (`${file:...}` or `NAME_FILE`). */
  secretPaths: DocPath[];
  /** The secret text itself, so error messages and logs can scrub it. */
  secretValues: Set<string>;
}

/** The result of interpolating one string. */
export interface ValueInterpolation {
  value: string;
  /** Problems, each at an index in the string's source text when it could be found. */
  problems: { reference: string; message: string }[];
  /** Parts of the value read from a secret file. */
  secrets: string[];
}

const REFERENCE = /\$\$\{|\$\{([^}\n]*)(\}?)/g;
const ENV_BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const FILE_BODY = /^file:(.+)$/s;

/**
 * Replaces `${NAME}`, `${NAME:-default}` and `${file:/path}` in one string value; `$${` stands for a
 * literal `${`. As in POSIX shells, the default is used when the variable is unset or empty. When
 * `NAME` is unset and `NAME_FILE` names a file, the file's content is the value (the convention of
 * container secrets); one trailing newline is dropped from file contents.
 *
 * @example interpolateValue('Bearer ${TOKEN:-dev}', { env: {} }).value // 'Bearer dev'
 */
export function interpolateValue(text: string, sources: InterpolationSources): ValueInterpolation {
  const problems: ValueInterpolation['problems'] = [];
  const secrets: string[] = [];
  let value = '';
  let last = 0;
  for (const match of text.matchAll(REFERENCE)) {
    value += text.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[0] === '$${') {
      value += '${';
      continue;
    }
    const body = match[1] ?? '';
    const reference = match[0];
    const fileBody = FILE_BODY.exec(body);
    if (match[2] === '}' && fileBody?.[1] !== undefined) {
      const read = readSecret(fileBody[1], sources);
      if (read.error !== undefined) problems.push({ reference, message: read.error });
      else secrets.push(read.text);
      value += read.text;
      continue;
    }
    const env = ENV_BODY.exec(body);
    if (match[2] !== '}' || env?.[1] === undefined) {
      problems.push({
        reference,
        message: `malformed reference "${reference}": expected \${NAME}, \${NAME:-default} or \${file:/path} (write $\${ for a literal \${)`,
      });
      continue;
    }
    const name = env[1];
    const fallback = env[2];
    const set = sources.env[name];
    const fileVar = sources.env[`${name}_FILE`];
    const isSet = set !== undefined && set !== '';
    if (isSet && fileVar !== undefined && fileVar !== '') {
      problems.push({ reference, message: `both ${name} and ${name}_FILE are set: set only one` });
      continue;
    }
    if (isSet) {
      value += set;
    } else if (fileVar !== undefined && fileVar !== '') {
      const read = readSecret(fileVar, sources);
      if (read.error !== undefined) problems.push({ reference, message: `${name}_FILE: ${read.error}` });
      else secrets.push(read.text);
      value += read.text;
    } else if (fallback !== undefined) {
      value += fallback;
    } else if (set === '') {
      value += set;
    } else {
      problems.push({
        reference,
        message: `environment variable ${name} is not set (give it a value, a ${name}_FILE, or a default: \${${name}:-value})`,
      });
    }
  }
  value += text.slice(last);
  return { value, problems, secrets };
}

function readSecret(path: string, sources: InterpolationSources): { text: string; error?: string } {
  const full = isAbsolute(path) ? path : resolve(sources.baseDir ?? process.cwd(), path);
  try {
    const text = (sources.readFile ?? defaultReadFile)(full);
    return {
      text: text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text,
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { text: '', error: `cannot read secret file ${full}: ${code ?? (err as Error).message}` };
  }
}

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8');
}

/** Raw text with each reference swapped for a same-length placeholder, and the references in order. */
export interface ProtectedText {
  text: string;
  references: string[];
}

const MARKER = 0xe000;
const DIGIT0 = 0xe001;
const BASE = 0x1000;
const PLACEHOLDER = /\uE000[\uE001-\uF000]*/g;

/**
 * Swaps every `${...}` (and `$${`) in the raw text for a placeholder of the same length made of
 * private-use characters, so the YAML parser sees a harmless plain scalar: `{` and `}` inside a
 * reference would otherwise break a flow mapping like `{ level: ${LEVEL} }`. The same length keeps
 * every offset, so errors still point at what the user wrote. Values are restored and interpolated
 * after parsing, by interpolateDocument.
 */
export function protectReferences(source: string): ProtectedText {
  const references: string[] = [];
  const text = source.replace(REFERENCE, (reference: string) => {
    const index = references.length;
    references.push(reference);
    let digits = '';
    let rest = index;
    for (let i = 1; i < reference.length; i++) {
      digits = String.fromCharCode(DIGIT0 + (rest % BASE)) + digits;
      rest = Math.floor(rest / BASE);
    }
    // A two-character reference ("${" left open) holds one digit: beyond 4096 of them, keep it as written.
    if (rest > 0) return reference;
    return String.fromCharCode(MARKER) + digits;
  });
  return { text, references };
}

function restoreReferences(text: string, references: readonly string[]): string {
  if (!text.includes('\uE000')) return text;
  return text.replace(PLACEHOLDER, (placeholder) => {
    let index = 0;
    for (let i = 1; i < placeholder.length; i++) index = index * BASE + (placeholder.charCodeAt(i) - DIGIT0);
    return references[index] ?? placeholder;
  });
}

/**
 * Interpolates every string scalar value of a parsed document in place. Working on parsed values
 * (never on the raw text) means a value containing quotes, newlines, `#` or YAML syntax is taken
 * literally and can never add keys. Mapping keys are left alone. A plain (unquoted) scalar is
 * re-resolved after interpolation, so `workers: ${WORKERS}` still gives a number.
 */
export function interpolateDocument(
  doc: Document,
  source: string,
  references: readonly string[],
  sources: InterpolationSources,
): DocumentInterpolation {
  const result: DocumentInterpolation = { problems: [], secretPaths: [], secretValues: new Set() };
  const walk = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        if (isScalar(pair.key) && typeof pair.key.value === 'string') {
          pair.key.value = restoreReferences(pair.key.value, references);
        }
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('\uE000')) {
      interpolateScalar(doc, node, restoreReferences(node.value, references), path, source, sources, result);
    }
  };
  walk(doc.contents, []);
  return result;
}

function interpolateScalar(
  doc: Document,
  node: Scalar,
  text: string,
  path: DocPath,
  source: string,
  sources: InterpolationSources,
  result: DocumentInterpolation,
): void {
  const out = interpolateValue(text, sources);
  const start = node.range?.[0] ?? 0;
  const end = node.range?.[1] ?? start;
  for (const problem of out.problems) {
    // The scalar's source may be quoted or folded; find the reference as written to point at it.
    const at = source.slice(start, end).indexOf(problem.reference);
    result.problems.push({ offset: at === -1 ? start : start + at, message: problem.message });
  }
  if (out.secrets.length > 0) {
    result.secretPaths.push(path);
    for (const secret of out.secrets) if (secret !== '') result.secretValues.add(secret);
    result.secretValues.add(out.value);
  }
  node.value = node.type === 'PLAIN' ? resolvePlain(doc, out.value) : out.value;
}

/** Resolves a plain scalar's text with the document's own schema (numbers, booleans, null), never as structure. */
function resolvePlain(doc: Document, text: string): unknown {
  for (const tag of doc.schema.tags) {
    if ('collection' in tag && tag.collection !== undefined) continue;
    if (!('test' in tag) || tag.test === undefined || !tag.test.test(text)) continue;
    const resolved: unknown = tag.resolve(text, () => undefined, {});
    return isScalar(resolved) ? resolved.value : resolved;
  }
  return text;
}
