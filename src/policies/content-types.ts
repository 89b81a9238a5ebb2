/**
 * Matches a Content-Type against a list such as `application/json`, `text/*` or `application/*+json`,
 * compiled once; parameters (`; charset=utf-8`) and case are ignored.
 */
export function createContentTypeMatcher(types: readonly string[]): (contentType: string) => boolean {
  const exact = new Set<string>();
  const families: [prefix: string, suffix: string][] = [];
  for (const type of types) {
    const lower = type.toLowerCase();
    const star = lower.indexOf('*');
    if (star < 0) exact.add(lower);
    else families.push([lower.slice(0, star), lower.slice(star + 1)]);
  }
  return function matchesContentType(contentType) {
    const semicolon = contentType.indexOf(';');
    const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
    if (exact.has(type)) return true;
    for (const [prefix, suffix] of families)
      if (type.length > prefix.length + suffix.length - 1 && type.startsWith(prefix) && type.endsWith(suffix))
        return true;
    return false;
  };
}
