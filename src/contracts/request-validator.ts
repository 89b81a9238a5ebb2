import type { IncomingHttpHeaders } from 'node:http';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import type { FormatsPlugin } from 'ajv-formats';
import { operationMethods, type Contract, type JsonObject } from './contract.ts';
import { ContractError } from './contract-error.ts';
import { PathTemplates } from './path-templates.ts';

/** Where a violation is: the part of the request, and a JSON pointer inside it ('' for the whole part). */
export interface Violation {
  /** `response` only in report-only response checks. */
  readonly in: 'path' | 'query' | 'header' | 'body' | 'response';
  readonly path: string;
  readonly message: string;
}

/** The parts of a request the validator reads. `path` is the path the service sees (see docs/versioning.md). */
export interface RequestParts {
  readonly method: string;
  readonly path: string;
  /** Raw query string without `?`. */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, or undefined when the request has none. */
  readonly body: Buffer | undefined;
}

/**
 * Request validation compiled from one contract: path templates matched once per request, then ajv validators
 * for path parameters, query, headers and JSON bodies, compiled from the document as published (its `$ref`s
 * are followed by ajv).
 *
 * @example
 * const validator = contractValidator(await parseContract(doc));
 * const violations = validator.validate({ method: 'POST', path: '/orders', query: '', headers, body });
 */
export interface ContractValidator {
  readonly hash: string;
  /** Every violation of the request, in order path → query → header → body; empty when it conforms. */
  validate(request: RequestParts): Violation[];
  /**
   * Violations of an answer to a request the contract describes (status described, media type, JSON body);
   * empty when it conforms or when the request's operation is unknown.
   */
  validateResponse(
    request: Pick<RequestParts, 'method' | 'path'>,
    status: number,
    contentType: string | undefined,
    body: Buffer,
  ): Violation[];
}

/** At most this many violations are listed; past that the client has more to fix than one answer can say. */
const MAX_VIOLATIONS = 100;
/** Compiled validators kept per contract hash; a contract beyond that is compiled again when used again. */
const MAX_CACHED = 64;
const DOC_ID = 'https://portico.invalid/contract.json';
/** Header parameters OpenAPI 3 says to ignore: they are described elsewhere in the document. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

const cache = new Map<string, ContractValidator>();
// ajv-formats is CommonJS: under Node's ESM interop its function is the default export, which TS types as the module.
const addFormats = ajvFormats.default as unknown as FormatsPlugin;

/**
 * The validator of a contract, compiled once per contract hash and then shared (registrations of the same
 * document by many instances reuse it).
 *
 * @throws ContractError when a schema of the contract cannot be compiled.
 */
export function contractValidator(contract: Contract): ContractValidator {
  let validator = cache.get(contract.hash);
  if (validator !== undefined) return validator;
  validator = new CompiledContract(contract);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(contract.hash, validator);
  return validator;
}

interface CompiledParam {
  readonly name: string;
  /** Property name in the validated object (lower-case for headers). */
  readonly key: string;
  readonly isArray: boolean;
  /** `style: form, explode: false` (or simple style) arrays come as one comma-separated value. */
  readonly commaSeparated: boolean;
  /** Described by `content` with a JSON media type instead of `schema`: the value is a JSON text. */
  readonly json: boolean;
}

interface ParamGroup {
  readonly params: readonly CompiledParam[];
  readonly validate: ValidateFunction;
}

interface CompiledBody {
  readonly required: boolean;
  /** Lower-case media range → validator (undefined: accepted, not checked). */
  readonly media: ReadonlyMap<string, ValidateFunction | undefined>;
}

interface CompiledOperation {
  readonly path: ParamGroup | undefined;
  readonly query: ParamGroup | undefined;
  readonly header: ParamGroup | undefined;
  readonly body: CompiledBody | undefined;
  /** Upper-case status key (`200`, `2XX`, `DEFAULT`) → the media types of that answer. */
  readonly responses: ReadonlyMap<string, CompiledBody>;
}

class CompiledContract implements ContractValidator {
  readonly hash: string;
  readonly #templates: PathTemplates;
  readonly #operations = new Map<string, Map<string, CompiledOperation>>();

  constructor(contract: Contract) {
    this.hash = contract.hash;
    const document = contract.openapi === '3.0' ? fromOpenApi30(contract.document) : contract.document;
    const options = { allErrors: true, strict: false, validateSchema: false } as const;
    // Parameters arrive as text: the parameter validators coerce ("7" → 7, one value → [value]); bodies are JSON.
    const paramAjv =
      contract.openapi === '3.1'
        ? new Ajv2020({ ...options, coerceTypes: 'array' })
        : new Ajv({ ...options, coerceTypes: 'array' });
    const bodyAjv = contract.openapi === '3.1' ? new Ajv2020(options) : new Ajv(options);
    for (const ajv of [paramAjv, bodyAjv]) {
      addFormats(ajv as unknown as Ajv);
      ajv.addSchema(document, DOC_ID);
    }
    const paths = (contract.document.paths ?? {}) as JsonObject;
    for (const [template, rawItem] of Object.entries(paths)) {
      const item = deref(contract.document, rawItem, ['paths', template]);
      const byMethod = new Map<string, CompiledOperation>();
      for (const method of operationMethods) {
        if (item.node[method] === undefined) continue;
        const at = [...item.at, method];
        try {
          byMethod.set(
            method.toUpperCase(),
            compileOperation(contract.document, item, at, paramAjv as Ajv, bodyAjv as Ajv),
          );
        } catch (err) {
          throw new ContractError(`a schema cannot be compiled: ${(err as Error).message}`, at.join('.'));
        }
      }
      this.#operations.set(template, byMethod);
    }
    this.#templates = new PathTemplates(this.#operations.keys());
  }

  validateResponse(
    request: Pick<RequestParts, 'method' | 'path'>,
    status: number,
    contentType: string | undefined,
    body: Buffer,
  ): Violation[] {
    const found = this.#templates.match(request.path);
    if (found === undefined) return [];
    const byMethod = this.#operations.get(found.template);
    const operation =
      byMethod?.get(request.method) ?? (request.method === 'HEAD' ? byMethod?.get('GET') : undefined);
    if (operation === undefined || operation.responses.size === 0) return [];
    const code = String(status);
    const described =
      operation.responses.get(code) ??
      operation.responses.get(`${code[0] ?? ''}XX`) ??
      operation.responses.get('DEFAULT');
    if (described === undefined)
      return [{ in: 'response', path: '', message: `status ${status} is not described by the contract` }];
    const out: Violation[] = [];
    if (request.method !== 'HEAD' && body.length > 0)
      checkMedia(described, 'response', contentType, body, out);
    return out;
  }

  validate(request: RequestParts): Violation[] {
    const found = this.#templates.match(request.path);
    if (found === undefined)
      return [{ in: 'path', path: '', message: `${request.path} is not a path of the contract` }];
    const byMethod = this.#operations.get(found.template);
    // HEAD is GET without the body (RFC 9110 §9.3.2): a contract rarely lists it separately.
    const operation =
      byMethod?.get(request.method) ?? (request.method === 'HEAD' ? byMethod?.get('GET') : undefined);
    if (operation === undefined)
      return [
        {
          in: 'path',
          path: '',
          message: `the contract has no ${request.method} operation on ${found.template}`,
        },
      ];
    const out: Violation[] = [];
    if (operation.path !== undefined) checkGroup(operation.path, 'path', found.params, out);
    if (operation.query !== undefined) checkGroup(operation.query, 'query', queryValues(request.query), out);
    if (operation.header !== undefined) checkGroup(operation.header, 'header', request.headers, out);
    if (operation.body !== undefined) checkBody(operation.body, request, out);
    return out.length > MAX_VIOLATIONS ? out.slice(0, MAX_VIOLATIONS) : out;
  }
}

type Location = { readonly node: JsonObject; readonly at: readonly string[] };

function compileOperation(
  doc: JsonObject,
  item: Location,
  at: readonly string[],
  paramAjv: Ajv,
  bodyAjv: Ajv,
): CompiledOperation {
  const operation = deref(doc, item.node[at.at(-1) as string], at);
  // Operation-level parameters override path-level ones with the same name and location.
  const params = new Map<string, Location>();
  for (const source of [item, operation]) {
    const list = source.node.parameters;
    if (!Array.isArray(list)) continue;
    list.forEach((raw, i) => {
      const param = deref(doc, raw, [...source.at, 'parameters', String(i)]);
      params.set(`${String(param.node.in)}:${String(param.node.name)}`, param);
    });
  }
  return {
    path: paramGroup(doc, 'path', params, paramAjv),
    query: paramGroup(doc, 'query', params, paramAjv),
    header: paramGroup(doc, 'header', params, paramAjv),
    body: compileBody(doc, operation, bodyAjv),
    responses: compileResponses(doc, operation, bodyAjv),
  };
}

function paramGroup(
  doc: JsonObject,
  where: 'path' | 'query' | 'header',
  params: ReadonlyMap<string, Location>,
  ajv: Ajv,
): ParamGroup | undefined {
  const compiled: CompiledParam[] = [];
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const { node, at } of params.values()) {
    if (node.in !== where || typeof node.name !== 'string') continue;
    const key = where === 'header' ? node.name.toLowerCase() : node.name;
    if (where === 'header' && IGNORED_HEADERS.has(key)) continue;
    const content = node.schema === undefined ? jsonContentSchemaAt(node, at) : undefined;
    if (content !== undefined) {
      compiled.push({ name: node.name, key, isArray: false, commaSeparated: false, json: true });
      properties[key] = { $ref: pointerRef(content) };
      if (node.required === true || where === 'path') required.push(key);
      continue;
    }
    const schema = node.schema === undefined ? undefined : deref(doc, node.schema, [...at, 'schema']);
    const type = schema?.node.type;
    const isArray = type === 'array' || (Array.isArray(type) && type.includes('array'));
    const style = typeof node.style === 'string' ? node.style : where === 'query' ? 'form' : 'simple';
    const explode = typeof node.explode === 'boolean' ? node.explode : style === 'form';
    compiled.push({ name: node.name, key, isArray, commaSeparated: isArray && !explode, json: false });
    properties[key] = schema === undefined ? {} : { $ref: pointerRef(schema.at) };
    if (node.required === true || where === 'path') required.push(key);
  }
  if (compiled.length === 0) return undefined;
  return { params: compiled, validate: ajv.compile({ type: 'object', properties, required }) };
}

/**
 * Where the schema of a parameter given by `content` is, when its media type is JSON (OpenAPI allows exactly
 * one entry); other media types are not decoded, so their values are only checked for presence.
 */
function jsonContentSchemaAt(node: JsonObject, at: readonly string[]): string[] | undefined {
  const content = node.content as JsonObject | undefined;
  for (const [type, entry] of Object.entries(content ?? {})) {
    if (isJsonMedia(type) && (entry as JsonObject | null)?.schema !== undefined) {
      return [...at, 'content', type, 'schema'];
    }
  }
  return undefined;
}

function compileBody(doc: JsonObject, operation: Location, ajv: Ajv): CompiledBody | undefined {
  if (operation.node.requestBody === undefined) return undefined;
  return compileContent(doc, deref(doc, operation.node.requestBody, [...operation.at, 'requestBody']), ajv);
}

function compileResponses(doc: JsonObject, operation: Location, ajv: Ajv): Map<string, CompiledBody> {
  const out = new Map<string, CompiledBody>();
  const responses = operation.node.responses as JsonObject | undefined;
  for (const [status, raw] of Object.entries(responses ?? {}))
    out.set(
      status.toUpperCase(),
      compileContent(doc, deref(doc, raw, [...operation.at, 'responses', status]), ajv),
    );
  return out;
}

/** The media types of a request body or a response, with validators for the JSON ones. */
function compileContent(doc: JsonObject, body: Location, ajv: Ajv): CompiledBody {
  const media = new Map<string, ValidateFunction | undefined>();
  const content = (body.node.content ?? {}) as JsonObject;
  for (const [type, entry] of Object.entries(content)) {
    const schema = (entry as JsonObject | null)?.schema;
    const checked = schema !== undefined && isJsonMedia(type);
    media.set(
      type.toLowerCase(),
      checked ? ajv.compile({ $ref: pointerRef([...body.at, 'content', type, 'schema']) }) : undefined,
    );
  }
  return { required: body.node.required === true, media };
}

function checkGroup(
  group: ParamGroup,
  where: Violation['in'],
  source: Readonly<Record<string, string | string[] | undefined>>,
  out: Violation[],
): void {
  const values: Record<string, unknown> = {};
  /** Pointers of JSON parameters that did not parse: already reported, so not reported as missing too. */
  let unparsed: string[] | undefined;
  for (const param of group.params) {
    const raw = source[param.key];
    if (raw === undefined) continue;
    if (param.json) {
      try {
        values[param.key] = JSON.parse(first(raw));
      } catch {
        const path = `/${escapePointer(param.key)}`;
        (unparsed ??= []).push(path);
        out.push({ in: where, path, message: 'must be a JSON text' });
      }
      continue;
    }
    values[param.key] =
      param.commaSeparated && typeof raw === 'string' ? raw.split(',') : param.isArray ? raw : first(raw);
  }
  if (group.validate(values)) return;
  const from = out.length;
  collect(where, group.validate.errors, out);
  if (unparsed === undefined) return;
  const kept = out.splice(from).filter((v) => !unparsed.includes(v.path));
  out.push(...kept);
}

function checkBody(body: CompiledBody, request: RequestParts, out: Violation[]): void {
  const bytes = request.body;
  if (bytes === undefined || bytes.length === 0) {
    if (body.required) out.push({ in: 'body', path: '', message: 'a request body is required' });
    return;
  }
  checkMedia(body, 'body', request.headers['content-type'], bytes, out);
}

function checkMedia(
  body: CompiledBody,
  where: 'body' | 'response',
  header: string | undefined,
  bytes: Buffer,
  out: Violation[],
): void {
  if (body.media.size === 0) return;
  const type = (header ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  const range = mediaRangeOf(body.media, type);
  if (range === undefined) {
    out.push({
      in: where,
      path: '',
      message: `media type "${type}" is not accepted (expected ${[...body.media.keys()].join(', ')})`,
    });
    return;
  }
  const validate = body.media.get(range);
  if (validate === undefined) return;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    out.push({ in: where, path: '', message: 'is not valid JSON' });
    return;
  }
  if (!validate(value)) collect(where, validate.errors, out);
}

function mediaRangeOf(media: ReadonlyMap<string, unknown>, type: string): string | undefined {
  if (media.has(type)) return type;
  const wildcard = `${type.split('/', 1)[0] ?? ''}/*`;
  if (media.has(wildcard)) return wildcard;
  return media.has('*/*') ? '*/*' : undefined;
}

function collect(where: Violation['in'], errors: ErrorObject[] | null | undefined, out: Violation[]): void {
  for (const error of errors ?? []) {
    let path = error.instancePath;
    let message = error.message ?? 'is invalid';
    const params = error.params as Record<string, unknown>;
    if (error.keyword === 'required') {
      path += `/${escapePointer(String(params.missingProperty))}`;
      message = 'is required';
    } else if (error.keyword === 'additionalProperties') {
      path += `/${escapePointer(String(params.additionalProperty))}`;
      message = 'is not allowed';
    } else if (error.keyword === 'unevaluatedProperties') {
      path += `/${escapePointer(String(params.unevaluatedProperty))}`;
      message = 'is not allowed';
    }
    // allErrors reports one failed keyword more than once through shared subschemas; the client needs it once.
    if (out.some((v) => v.in === where && v.path === path && v.message === message)) continue;
    out.push({ in: where, path, message });
  }
}

function queryValues(query: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (query === '') return out;
  for (const [name, value] of new URLSearchParams(query)) {
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (typeof seen === 'string') out[name] = [seen, value];
    else seen.push(value);
  }
  return out;
}

function first(value: string | string[]): string {
  return typeof value === 'string' ? value : (value[0] ?? '');
}

function isJsonMedia(type: string): boolean {
  const base = type.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return base === 'application/json' || base.endsWith('+json') || base === '*/*';
}

/** Follows local `$ref`s (parameters, request bodies, path items) and tells where the target is. */
function deref(doc: JsonObject, node: unknown, at: readonly string[]): Location {
  let current = node;
  let where = at;
  for (let hops = 0; hops < 32; hops++) {
    const ref = (current as JsonObject | null)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#')) break;
    where = ref
      .slice(1)
      .split('/')
      .slice(1)
      .map((part) => decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~'));
    current = where.reduce<unknown>((value, key) => (value as JsonObject | undefined)?.[key], doc);
  }
  const object = current !== null && typeof current === 'object' ? (current as JsonObject) : {};
  return { node: object, at: where };
}

function pointerRef(at: readonly string[]): string {
  return `${DOC_ID}#${at.map((part) => `/${encodeURIComponent(escapePointer(part))}`).join('')}`;
}

function escapePointer(part: string): string {
  return part.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * OpenAPI 3.0 schemas are JSON Schema draft 4 in places: boolean `exclusiveMinimum`/`exclusiveMaximum` become
 * the numeric form ajv knows. `nullable` is understood by ajv itself.
 */
function fromOpenApi30(document: JsonObject): JsonObject {
  return convert(structuredClone(document)) as JsonObject;
  function convert(node: unknown): unknown {
    if (node === null || typeof node !== 'object') return node;
    if (Array.isArray(node)) {
      for (const item of node) convert(item);
      return node;
    }
    const object = node as JsonObject;
    for (const [bound, exclusive] of [
      ['minimum', 'exclusiveMinimum'],
      ['maximum', 'exclusiveMaximum'],
    ] as const) {
      if (typeof object[exclusive] !== 'boolean') continue;
      if (object[exclusive] === true && typeof object[bound] === 'number') {
        object[exclusive] = object[bound];
        delete object[bound];
      } else delete object[exclusive];
    }
    for (const value of Object.values(object)) convert(value);
    return object;
  }
}
