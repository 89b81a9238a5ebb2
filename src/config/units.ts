/** The configuration's duration syntax, as a JSON Schema `pattern` (the schema and the parser share it). */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';
/** The configuration's size syntax, as a JSON Schema `pattern`. */
export const SIZE_PATTERN = '^[0-9]+(b|kb|mb|gb)$';

const DURATION = new RegExp(DURATION_PATTERN);
const SIZE = new RegExp(SIZE_PATTERN);

const MS_PER_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// Binary multiples: a "10mb" body limit means 10 MiB, as in nginx and fastify's bodyLimit.
const BYTES_PER_UNIT: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/**
 * Parses a configuration duration into whole milliseconds (rounded).
 *
 * @example parseDurationMs('1.5s') // 1500
 * @throws RangeError when the text is not a number followed by ms, s, m, h or d.
 */
export function parseDurationMs(text: string): number {
  const m = DURATION.exec(text);
  const unit = m?.[2] === undefined ? undefined : MS_PER_UNIT[m[2]];
  if (unit === undefined) {
    throw new RangeError(`invalid duration "${text}": expected a number followed by ms, s, m, h or d`);
  }
  // The pattern guarantees a leading number, which parseFloat reads up to the unit.
  return Math.round(Number.parseFloat(text) * unit);
}

/**
 * Parses a configuration size into bytes; 1kb = 1024 bytes, 1mb = 1024 kb, 1gb = 1024 mb.
 *
 * @example parseSizeBytes('10mb') // 10485760
 * @throws RangeError when the text is not a whole number followed by b, kb, mb or gb.
 */
export function parseSizeBytes(text: string): number {
  const m = SIZE.exec(text);
  const unit = m?.[1] === undefined ? undefined : BYTES_PER_UNIT[m[1]];
  if (unit === undefined) {
    throw new RangeError(`invalid size "${text}": expected a whole number followed by b, kb, mb or gb`);
  }
  return Number.parseInt(text, 10) * unit;
}
