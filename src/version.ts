import { readFileSync } from 'node:fs';

let cached: string | undefined;

/**
 * Portico's version, from package.json (one folder up from both src/version.ts and dist/version.js); read once.
 *
 * @example porticoVersion() // '0.1.0'
 */
export function porticoVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
