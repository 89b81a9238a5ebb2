import type { DocPath } from './source-location.ts';

/** Values of a loaded configuration that came from secret files, kept beside it (never inside it). */
export interface ConfigSecrets {
  /** Document paths whose value took any part from `${file:...}` or a `NAME_FILE` variable. */
  paths: readonly DocPath[];
  /** The secret texts, so messages can be scrubbed. */
  values: ReadonlySet<string>;
}

const NONE: ConfigSecrets = { paths: [], values: new Set() };
const byConfig = new WeakMap<object, ConfigSecrets>();

/** Remembers which values of `config` are secrets read from files. */
export function rememberSecrets(config: object, secrets: ConfigSecrets): void {
  if (secrets.paths.length > 0) byConfig.set(config, secrets);
}

/** The secrets read while loading `config` (none when it was not loaded from a file with secrets). */
export function secretsOf(config: object): ConfigSecrets {
  return byConfig.get(config) ?? NONE;
}

/**
 * Replaces every occurrence of a secret in `text` with `[redacted]`.
 *
 * @example scrubSecrets('got "hunter2"', new Set(['hunter2'])) // 'got "[redacted]"'
 */
export function scrubSecrets(text: string, values: ReadonlySet<string>): string {
  let out = text;
  for (const value of values) if (value.length > 0) out = out.replaceAll(value, '[redacted]');
  return out;
}
