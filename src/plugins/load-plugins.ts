import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import type { ConfigIssue } from '../config/config-error.ts';
import { ConfigError } from '../config/config-error.ts';
import { PLUGIN_NAME_PATTERN, type Config } from '../config/schema.ts';
import { translateSchemaErrors } from '../config/schema-issues.ts';
import { formatDocPath, type DocPath, type SourcePosition } from '../config/source-location.ts';
import { phases, type Phase } from './phases.ts';

/**
 * A plugin as the loader sees it: checked for shape, its stage still untyped. The gateway gives `create`
 * its typed meaning (src/gateway/plugins/define-plugin.ts); this layer sits under the gateway and must not
 * import it.
 */
export interface LoadedPlugin {
  readonly name: string;
  readonly phase: Phase;
  /** The module as the config names it. */
  readonly module: string;
  readonly create: (
    options: unknown,
    context: { readonly route: string; readonly service: string },
  ) => unknown;
}

/** Loaded plugins by name. */
export type ConfigPlugins = ReadonlyMap<string, LoadedPlugin>;

/** Finds the line of a document path in the config text, when the text is at hand. */
export type LocatePath = (path: DocPath) => SourcePosition | undefined;

const NONE: ConfigPlugins = new Map();
// Config stays plain data: the modules it names sit beside it, keyed by the object (as contracts do).
const loaded = new WeakMap<Config, ConfigPlugins>();
const namePattern = new RegExp(PLUGIN_NAME_PATTERN);

/**
 * Imports every module under `plugins` (paths relative to the config file, or package names), checks that
 * each exports a plugin definition, and checks every route's options against the plugin's TypeBox schema,
 * filling its defaults in. A file is imported again when it changed since the last load, so a reload picks up
 * a new version of a plugin.
 *
 * @throws ConfigError listing every module that cannot be used and every route option that does not fit.
 * @example
 * const config = parseConfig(text, file);
 * await loadConfigPlugins(config, file);
 * configPlugins(config).get('hmac-sign')?.phase; // 'transform'
 */
export async function loadConfigPlugins(
  config: Config,
  configFile: string,
  locate: LocatePath = () => undefined,
): Promise<void> {
  const issues: ConfigIssue[] = [];
  const issue = (path: DocPath, message: string): void => {
    issues.push({ file: configFile, ...locate(path), path: formatDocPath(path), message });
  };
  const plugins = new Map<string, LoadedPlugin & { readonly validate: ValidateFunction | undefined }>();
  const base = dirname(resolve(configFile));
  let ajv: Ajv | undefined;

  for (const [index, entry] of (config.plugins ?? []).entries()) {
    const at = ['plugins', index, 'module'];
    let exported: unknown;
    try {
      exported = await importPlugin(entry.module, base);
    } catch (err) {
      issue(at, `cannot load the plugin module "${entry.module}": ${(err as Error).message}`);
      continue;
    }
    const shapeProblem = definitionProblem(exported);
    if (shapeProblem !== undefined) {
      issue(at, `"${entry.module}" does not export a plugin definition: ${shapeProblem}`);
      continue;
    }
    const definition = exported as PluginShape;
    if (plugins.has(definition.name)) {
      issue(at, `a second module defines the plugin "${definition.name}"`);
      continue;
    }
    let validate: ValidateFunction | undefined;
    try {
      ajv ??= new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false });
      validate = definition.options === undefined ? undefined : ajv.compile(definition.options);
    } catch (err) {
      issue(at, `the options schema of plugin "${definition.name}" is not valid: ${(err as Error).message}`);
      continue;
    }
    plugins.set(definition.name, {
      name: definition.name,
      phase: definition.phase,
      module: entry.module,
      create: definition.create.bind(definition),
      validate,
    });
  }

  for (const [index, route] of config.routes.entries()) {
    for (const [name, options] of Object.entries(route.plugins ?? {})) {
      const at = ['routes', index, 'plugins', name];
      const plugin = plugins.get(name);
      if (plugin === undefined) {
        const known = [...plugins.keys()];
        issue(
          at,
          `no plugin named "${name}" is loaded (${known.length === 0 ? 'the config lists no plugins' : `loaded: ${known.join(', ')}`})`,
        );
        continue;
      }
      if (plugin.validate === undefined || plugin.validate(options)) continue;
      for (const problem of translateSchemaErrors(plugin.validate.errors ?? [], options)) {
        issue([...at, ...problem.path], problem.message);
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  loaded.set(config, plugins);
}

/** The plugins loaded for this config object (none when it names none or was not loaded from a file). */
export function configPlugins(config: Config): ConfigPlugins {
  return loaded.get(config) ?? NONE;
}

interface PluginShape {
  readonly name: string;
  readonly phase: Phase;
  readonly options?: TSchema;
  readonly create: LoadedPlugin['create'];
}

/**
 * A path is imported with its modification time in the URL: ESM keeps every module it loaded by URL, so the
 * same URL would hand back the old code after the file changed. Each changed version stays in memory; a
 * package is imported once per process (docs/plugins.md says so).
 */
async function importPlugin(specifier: string, base: string): Promise<unknown> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier);
  let url: string;
  if (isPath) {
    const file = resolve(base, specifier);
    const { mtimeMs } = await stat(file);
    url = `${pathToFileURL(file).href}?mtime=${mtimeMs}`;
  } else {
    // A package resolves from the config's folder, as a path does, not from Portico's install.
    url = pathToFileURL(createRequire(resolve(base, 'portico.config')).resolve(specifier)).href;
  }
  const module = (await import(url)) as { default?: unknown; plugin?: unknown };
  return module.default ?? module.plugin;
}

function definitionProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object')
    return 'expected a default export made with definePlugin({ name, phase, options, create })';
  const candidate = value as Record<string, unknown>;
  if (typeof candidate.name !== 'string' || !namePattern.test(candidate.name))
    return 'its name must be lowercase letters, digits and dashes, starting with a letter';
  if (typeof candidate.phase !== 'string' || !(phases as readonly string[]).includes(candidate.phase))
    return `its phase must be one of ${phases.join(', ')}`;
  if (typeof candidate.create !== 'function') return 'it has no create(options, context) function';
  if (
    candidate.options !== undefined &&
    (candidate.options === null || typeof candidate.options !== 'object')
  )
    return 'its options must be a TypeBox schema';
  return undefined;
}
