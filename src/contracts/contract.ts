import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ContractError } from './contract-error.ts';

/** A JSON value as found in an OpenAPI document. */
export type JsonObject = Record<string, unknown>;

/** The HTTP methods an OpenAPI path item may describe. */
export const operationMethods = [
  'get',
  'put',
  'post',
  'delete',
  'options',
  'head',
  'patch',
  'trace',
] as const;
export type OperationMethod = (typeof operationMethods)[number];

/**
 * A checked OpenAPI 3.0 or 3.1 document (a Swagger 2.0 document is converted to OpenAPI 3.0 first). `document` is the text as published (refs intact, for ajv and the
 * catalogue; a contract file's references to other files are bundled in as local refs); `resolved` has every `$ref` replaced by its target (cycles stay as shared objects), for the diff.
 */
export interface Contract {
  readonly openapi: '3.0' | '3.1';
  readonly document: JsonObject;
  readonly resolved: JsonObject;
  /** sha256 of the canonical JSON text: the cache key of compiled validators. */
  readonly hash: string;
}

/**
 * Checks and resolves an OpenAPI document given as an object or as JSON/YAML text. Only `#/...` references are
 * followed unless `baseFile` is given, in which case relative files are read too (never URLs: a contract must not
 * make the gateway fetch anything).
 *
 * @throws ContractError naming the place in the document that is wrong.
 * @example
 * const contract = await parseContract({ openapi: '3.1.0', info: { title: 'users', version: '1.0.0' }, paths: {} });
 */
export function parseContract(input: unknown, options: { baseFile?: string } = {}): Promise<Contract> {
  if (typeof input !== 'string' || options.baseFile !== undefined) return checkContract(input, options);
  let parsed = parsedTexts.get(input);
  if (parsed === undefined) {
    if (parsedTexts.size >= MAX_PARSED_TEXTS) parsedTexts.delete(parsedTexts.keys().next().value as string);
    const pending = checkContract(input, options);
    parsedTexts.set(input, pending);
    // A refused text is not kept: the cache is for the documents in use.
    pending.catch(() => {
      if (parsedTexts.get(input) === pending) parsedTexts.delete(input);
    });
    parsed = pending;
  }
  return parsed;
}

/**
 * Published contracts by text. The registry's gate parses a registration's contract (and the one it is compared
 * with), then the gateway's ContractBook loads the same text back from the store, and every instance of a version
 * registers it again: one parse serves them all. Callers never mutate a Contract (the catalogue clones).
 */
const parsedTexts = new Map<string, Promise<Contract>>();
const MAX_PARSED_TEXTS = 32;

async function checkContract(input: unknown, options: { baseFile?: string }): Promise<Contract> {
  const document = typeof input === 'string' ? parseText(input) : input;
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    throw new ContractError('the contract must be an OpenAPI document (a JSON object)', '');
  const doc = await fromSwagger2(document as JsonObject);
  const version =
    typeof doc.openapi === 'string' || typeof doc.openapi === 'number' ? String(doc.openapi) : undefined;
  if (version === undefined)
    throw new ContractError(
      '"openapi" is missing: only OpenAPI 3.0 and 3.1 (or Swagger 2.0) documents are accepted',
      'openapi',
    );
  const major = /^3\.(0|1)\.\d+/.exec(version);
  if (major === null)
    throw new ContractError(
      `"openapi" is "${version}": only OpenAPI 3.0.x and 3.1.x (or Swagger 2.0) are accepted`,
      'openapi',
    );
  checkShape(doc);
  if (options.baseFile === undefined) refuseExternalRefs(doc, '');
  let resolved: JsonObject;
  let published = doc;
  // Loaded on the first contract, not at start: a config without contracts never pays for them (docs/benchmarks.md).
  const { default: $RefParser } = await import('@apidevtools/json-schema-ref-parser');
  try {
    // A contract file may reference files next to it: bundling pulls them in as local refs, so ajv and the
    // catalogue get one self-contained document.
    if (options.baseFile !== undefined)
      published = (await $RefParser.bundle(options.baseFile, structuredClone(doc), {
        resolve: { external: true, http: false },
      })) as JsonObject;
    resolved = (await $RefParser.dereference(
      options.baseFile ?? resolvePath('contract.json'),
      structuredClone(doc),
      {
        resolve: { external: options.baseFile !== undefined, http: false },
        dereference: { circular: true },
      },
    )) as JsonObject;
  } catch (err) {
    throw new ContractError(`a $ref cannot be resolved: ${(err as Error).message}`, refLocation(err));
  }
  const canonical = JSON.stringify(published);
  return {
    openapi: major[1] === '0' ? '3.0' : '3.1',
    document: published,
    resolved,
    hash: createHash('sha256').update(canonical).digest('hex'),
  };
}

/**
 * Swagger 2.0 (`swagger: "2.0"`) becomes the equivalent OpenAPI 3.0 document, so validation, the diff and the
 * catalogue see one shape. The converter never resolves references itself: `$ref`s are rewritten to their OpenAPI
 * 3 places and followed afterwards under the same rules as any contract.
 */
async function fromSwagger2(doc: JsonObject): Promise<JsonObject> {
  if (doc.swagger === undefined || doc.openapi !== undefined) return doc;
  if (String(doc.swagger) !== '2.0' && doc.swagger !== 2)
    throw new ContractError(`"swagger" is "${String(doc.swagger)}": only Swagger 2.0 is accepted`, 'swagger');
  const { default: swagger2openapi } = await import('swagger2openapi');
  try {
    return await swagger2openapi.convertObj(structuredClone({ ...doc, swagger: '2.0' }), {
      patch: true,
      warnOnly: true,
      resolve: false,
      resolveInternal: false,
      direct: true,
    });
  } catch (err) {
    throw new ContractError(`the Swagger 2.0 document cannot be converted: ${(err as Error).message}`, '');
  }
}

/** Reads and checks a contract file (JSON or YAML); relative `$ref` files next to it are followed. */
export async function loadContractFile(file: string): Promise<Contract> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ContractError(`cannot read ${file}: ${(err as Error).message}`, '');
  }
  return parseContract(parseText(text), { baseFile: resolvePath(file) });
}

function parseText(text: string): unknown {
  try {
    return text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ContractError(`the contract is not valid JSON or YAML: ${(err as Error).message}`, '');
  }
}

/** The few structural rules the gateway relies on; a full meta-schema check would refuse documents in use. */
function checkShape(doc: JsonObject): void {
  const info = doc.info;
  if (info === null || typeof info !== 'object')
    throw new ContractError('"info" must be an object with "title" and "version"', 'info');
  const paths = doc.paths ?? {};
  if (paths === null || typeof paths !== 'object' || Array.isArray(paths))
    throw new ContractError('"paths" must be an object', 'paths');
  for (const [path, item] of Object.entries(paths as JsonObject)) {
    if (!path.startsWith('/')) throw new ContractError(`path "${path}" must start with "/"`, `paths.${path}`);
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      throw new ContractError(`path "${path}" must be an object`, `paths.${path}`);
    for (const method of operationMethods) {
      const op = (item as JsonObject)[method];
      if (op === undefined) continue;
      const at = `paths.${path}.${method}`;
      if (op === null || typeof op !== 'object' || Array.isArray(op))
        throw new ContractError('an operation must be an object', at);
      const params = (op as JsonObject).parameters;
      if (params !== undefined && !Array.isArray(params))
        throw new ContractError('"parameters" must be a list', `${at}.parameters`);
      const responses = (op as JsonObject).responses;
      if (responses !== undefined && (responses === null || typeof responses !== 'object'))
        throw new ContractError('"responses" must be an object', `${at}.responses`);
    }
  }
}

function refuseExternalRefs(node: unknown, at: string): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) refuseExternalRefs(node[i], `${at}.${i}`);
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    const here = at === '' ? key : `${at}.${key}`;
    if (key === '$ref' && typeof value === 'string' && !value.startsWith('#'))
      throw new ContractError(`external $ref "${value}" is not allowed in a published contract`, here);
    refuseExternalRefs(value, here);
  }
}

function refLocation(err: unknown): string {
  const path = (err as { path?: unknown }).path;
  return Array.isArray(path) ? path.join('.') : '';
}
