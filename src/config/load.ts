import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { loadConfigContracts } from '../contracts/config-contracts.ts';
import { loadConfigPlugins } from '../plugins/load-plugins.ts';
import { ConfigError, type ConfigIssue } from './config-error.ts';
import { dirname } from 'node:path';
import { interpolateDocument, protectReferences } from './interpolate.ts';
import { ConfigSchema, type Config } from './schema.ts';
import { translateSchemaErrors } from './schema-issues.ts';
import { checkSemantics } from './semantic-checks.ts';
import { rememberSecrets, scrubSecrets } from './secrets.ts';
import { createLocator, formatDocPath, type DocPath, type Locator } from './source-location.ts';
import { findUnsupportedUses } from './unsupported.ts';

type Env = Record<string, string | undefined>;

let validator: ValidateFunction | undefined;

/** The compiled validator, built on first use and shared afterwards. */
function configValidator(): ValidateFunction {
  if (validator === undefined) {
    // strict: false because TypeBox schemas carry extra (symbol) keys ajv does not know.
    const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false });
    ajv.addFormat('date', { type: 'string', validate: isCalendarDate });
    validator = ajv.compile(ConfigSchema);
  }
  return validator;
}

function isCalendarDate(text: string): boolean {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  // Date rolls 2026-02-30 over to March; a real date survives the round trip.
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
}

/**
 * Reads, interpolates, parses and validates a configuration file, with defaults applied.
 *
 * With `refuseEmpty` (reloads of a running node), an empty file is refused instead of read as every default.
 *
 * @example const config = await loadConfig('portico.yaml');
 * @throws ConfigError listing every issue, each with file, line, column and document path.
 */
export async function loadConfig(
  file: string,
  env: Env = process.env,
  options: { readonly refuseEmpty?: boolean } = {},
): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError([{ file, path: '', message: `cannot read the configuration: ${reason}` }]);
  }
  // An empty file is a valid config with no routes; read while a writer is still at it, it would drop them all.
  if (options.refuseEmpty === true && text.trim() === '') {
    throw new ConfigError([
      {
        file,
        path: '',
        message:
          'the file is empty (still being written?); write config files by rename to replace them in one step',
      },
    ]);
  }
  const config = parseConfig(text, file, env);
  // Contract files are part of the config: a missing or broken one fails the load like a bad setting.
  await loadConfigContracts(config, file);
  // So are plugin modules; their options are checked here, with the line they sit on.
  let locator: Locator | undefined;
  await loadConfigPlugins(config, file, (path) => {
    locator ??= createLocator(parseDocument(text), text, identity);
    return locator.locate(path);
  });
  return config;
}

/**
 * Like {@link loadConfig}, for a document that did not come from a file (a revision from the store, a body posted to
 * the admin API): `label` names it in issues (`store revision 7`), and relative paths (contracts, `${file:…}`
 * secrets) resolve against the working directory.
 *
 * @example const config = await loadConfigText(revision.document, 'store revision 7');
 * @throws ConfigError listing every issue found.
 */
export async function loadConfigText(text: string, label: string, env: Env = process.env): Promise<Config> {
  const config = parseConfig(text, label, env);
  await loadConfigContracts(config, label);
  return config;
}

/**
 * Parses configuration text (YAML, or JSON when `file` ends in .json or the text starts with `{`),
 * replaces `${VAR}` and `${file:/path}` references inside its values, validates it against ConfigSchema and applies defaults.
 * Features the schema knows but the gateway does not implement yet are reported as issues.
 *
 * @example parseConfig('listen: 127.0.0.1:8080\n', 'inline.yaml', {}).limits.bodySize // '10mb'
 * @throws ConfigError listing every issue found.
 */
export function parseConfig(
  text: string,
  file: string,
  env: Env = process.env,
  readSecretFile?: (path: string) => string,
): Config {
  const issues: ConfigIssue[] = [];
  const isJson = file.toLowerCase().endsWith('.json') || /^\s*\{/.test(text);
  if (isJson) {
    const jsonIssue = checkJsonSyntax(text);
    if (jsonIssue !== undefined) {
      const at = createLocator(undefined, text, identity).positionOf(jsonIssue.offset);
      throw new ConfigError([{ file, ...at, path: '', message: jsonIssue.message }]);
    }
  }

  const protectedText = protectReferences(text);
  const doc = parseDocument(protectedText.text, { prettyErrors: false, uniqueKeys: true });
  const locator = createLocator(doc, text, identity);
  for (const error of doc.errors) {
    const message = `${isJson ? 'invalid JSON' : 'invalid YAML'}: ${error.message}`;
    issues.push({ file, ...locator.positionOf(error.pos[0]), path: '', message });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  // References are replaced inside parsed values, never in the raw text, so no value can add structure.
  const secretSources = {
    env,
    baseDir: dirname(file),
    ...(readSecretFile ? { readFile: readSecretFile } : {}),
  };
  const interpolated = interpolateDocument(doc, text, protectedText.references, secretSources);
  for (const p of interpolated.problems) {
    issues.push({ file, ...locator.positionOf(p.offset), path: '', message: p.message });
  }
  // Without the right values (unset variables), schema errors would only be noise.
  if (issues.length > 0) throw new ConfigError(sortIssues(issues));
  const secretPaths = interpolated.secretPaths.map((path) => formatDocPath(path));

  const data: unknown = doc.toJS() ?? {};
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([
      { file, ...locator.locate([]), path: '', message: 'expected an object of settings at the top level' },
    ]);
  }

  const at = (path: DocPath, message: string, atKey = false): ConfigIssue => {
    const where = formatDocPath(path);
    let text = scrubSecrets(message, interpolated.secretValues);
    // Found values are shortened in messages, so a secret may show only in part: hide the whole rendering.
    if (
      secretPaths.some(
        (secret) => where === secret || where.startsWith(`${secret}.`) || where.startsWith(`${secret}[`),
      )
    ) {
      text = text.replace(/\(got .*\)$/s, '(got [redacted])');
    }
    return { file, ...locator.locate(path, { key: atKey }), path: where, message: text };
  };

  const validate = configValidator();
  const valid = validate(data);
  if (!valid) {
    for (const issue of translateSchemaErrors(validate.errors ?? [], data)) {
      issues.push(at(issue.path, issue.message, issue.atKey));
    }
  }
  for (const use of findUnsupportedUses(data)) {
    issues.push(at(use.segments, use.message, use.feature.value === undefined));
  }
  if (valid) {
    for (const issue of checkSemantics(data as Config)) issues.push(at(issue.path, issue.message));
  }
  if (issues.length > 0) throw new ConfigError(sortIssues(issues));
  rememberSecrets(data, { paths: interpolated.secretPaths, values: interpolated.secretValues });
  return data as Config;
}

function identity(offset: number): number {
  return offset;
}

function checkJsonSyntax(text: string): { offset: number; message: string } | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    const position = /at position ([0-9]+)/.exec(message)?.[1];
    const offset = position === undefined ? text.length : Number(position);
    return { offset, message: `invalid JSON: ${message.replace(/ in JSON at position .*$/, '')}` };
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort(
    (a, b) =>
      (a.line ?? Infinity) - (b.line ?? Infinity) ||
      (a.column ?? Infinity) - (b.column ?? Infinity) ||
      a.path.localeCompare(b.path),
  );
}
