/** A reference that could not be replaced, located in the original text. */
export interface InterpolationProblem {
  /** Offset of the `${` in the original text. */
  offset: number;
  message: string;
}

/** The text with every reference replaced, and how to map its offsets back to the original. */
export interface Interpolation {
  text: string;
  problems: InterpolationProblem[];
  /** Maps an offset in `text` to the matching offset in the original, so errors point at what the user wrote. */
  toSourceOffset(offset: number): number;
}

interface Replacement {
  outStart: number;
  outEnd: number;
  inStart: number;
  inEnd: number;
}

const REFERENCE = /\$\$\{|\$\{([^}\n]*)(\}?)/g;
const BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Replaces `${NAME}` and `${NAME:-default}` with values from `env` in the raw configuration text;
 * `$${` stands for a literal `${`. As in POSIX shells, the default is used when the variable is
 * unset or empty. An unset variable without default is a problem naming it.
 *
 * @example interpolateEnv('token: ${TOKEN:-dev}', {}).text // 'token: dev'
 */
export function interpolateEnv(source: string, env: Record<string, string | undefined>): Interpolation {
  const problems: InterpolationProblem[] = [];
  const replacements: Replacement[] = [];
  let text = '';
  let last = 0;
  for (const match of source.matchAll(REFERENCE)) {
    const start = match.index;
    const end = start + match[0].length;
    let value: string;
    if (match[0] === '$${') {
      value = '${';
    } else {
      const body = BODY.exec(match[1] ?? '');
      if (match[2] !== '}' || body?.[1] === undefined) {
        problems.push({
          offset: start,
          message: `malformed variable reference "${match[0]}": expected \${NAME} or \${NAME:-default} (write $\${ for a literal \${)`,
        });
        continue;
      }
      const name = body[1];
      const fallback = body[2];
      const set = env[name];
      if (fallback !== undefined) {
        value = set === undefined || set === '' ? fallback : set;
      } else if (set === undefined) {
        problems.push({
          offset: start,
          message: `environment variable ${name} is not set (give it a value or a default: \${${name}:-value})`,
        });
        value = '';
      } else {
        value = set;
      }
    }
    text += source.slice(last, start);
    replacements.push({
      outStart: text.length,
      outEnd: text.length + value.length,
      inStart: start,
      inEnd: end,
    });
    text += value;
    last = end;
  }
  text += source.slice(last);
  return { text, problems, toSourceOffset: (offset) => mapOffset(replacements, offset) };
}

function mapOffset(replacements: Replacement[], offset: number): number {
  let lo = 0;
  let hi = replacements.length - 1;
  let found: Replacement | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = replacements[mid];
    if (r !== undefined && r.outStart <= offset) {
      found = r;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found === undefined) return offset;
  if (offset < found.outEnd) return found.inStart;
  return found.inEnd + (offset - found.outEnd);
}
