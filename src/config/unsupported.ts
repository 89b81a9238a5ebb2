/**
 * A configuration feature that the schema already accepts but the gateway does not implement yet.
 * `path` uses `[]` for any list item and `*` for any key of a mapping; with `value`, only that
 * value is unsupported.
 */
export interface UnsupportedFeature {
  path: string;
  value?: string;
  feature: string;
  issue: number;
}

/**
 * Features that must fail validation instead of being silently ignored. Each later issue deletes
 * its rows when it brings the behaviour, so keep this a plain table.
 */
export const unsupportedFeatures: readonly UnsupportedFeature[] = [];

/** One place where a document uses an unsupported feature. */
export interface UnsupportedUse {
  /** Concrete path segments, e.g. `['routes', 0, 'auth']`. */
  segments: (string | number)[];
  feature: UnsupportedFeature;
  message: string;
}

/** Finds every use of a feature in `table` within the parsed document `data`. */
export function findUnsupportedUses(
  data: unknown,
  table: readonly UnsupportedFeature[] = unsupportedFeatures,
): UnsupportedUse[] {
  const uses: UnsupportedUse[] = [];
  for (const feature of table) {
    const pattern = splitPattern(feature.path);
    for (const segments of expand(data, pattern, [])) {
      const key = String(segments.at(-1));
      const planned = `(planned: ${feature.feature}, issue #${feature.issue})`;
      if (feature.value === undefined) {
        uses.push({ segments, feature, message: `"${key}" is not supported yet ${planned}` });
      } else if (valueAt(data, segments) === feature.value) {
        uses.push({
          segments,
          feature,
          message: `${key} "${feature.value}" is not supported yet ${planned}`,
        });
      }
    }
  }
  return uses;
}

function splitPattern(path: string): string[] {
  return path.replaceAll('[]', '.[]').split('.');
}

function* expand(node: unknown, pattern: string[], at: (string | number)[]): Generator<(string | number)[]> {
  const [head, ...rest] = pattern;
  if (head === undefined) {
    yield at;
    return;
  }
  if (head === '[]') {
    if (!Array.isArray(node)) return;
    for (let i = 0; i < node.length; i++) yield* expand(node[i], rest, [...at, i]);
    return;
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const record = node as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(record) : Object.hasOwn(record, head) ? [head] : [];
  for (const key of keys) yield* expand(record[key], rest, [...at, key]);
}

function valueAt(data: unknown, segments: (string | number)[]): unknown {
  let node = data;
  for (const seg of segments) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}
