/**
 * A compiled change to a flat `[name, value, …]` header list: what transforms do to the request sent
 * upstream and to the answer sent back. Built once per route; a route whose values use placeholders gets a
 * copy with the values filled in per request (see value-template.ts).
 */
export interface HeaderEdit {
  /** Lower-case names removed: `remove`, and the names `set` replaces. */
  readonly drop: ReadonlySet<string>;
  /** Lower-case name → new name; the value is kept. */
  readonly renames: ReadonlyMap<string, string>;
  /** Flat `[name, value, …]` appended after the kept headers (`set` and `add`). */
  readonly append: readonly string[];
  /** A further edit applied after this one (the cache's conditional headers after a route's transform). */
  readonly then?: HeaderEdit | undefined;
}

/** `first`, then `second`; either may be absent. */
export function chainHeaderEdits(first: HeaderEdit | undefined, second: HeaderEdit): HeaderEdit {
  if (first === undefined) return second;
  return { drop: first.drop, renames: first.renames, append: first.append, then: second };
}

/** Applies `edit` to `list` in place: one pass over the list, then the appended headers. */
export function applyHeaderEdit(list: string[], edit: HeaderEdit): void {
  const drop = edit.drop;
  const renames = edit.renames;
  let kept = 0;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    const lower = name.toLowerCase();
    const renamed = renames.get(lower);
    if (renamed === undefined && drop.has(lower)) continue;
    list[kept++] = renamed ?? name;
    list[kept++] = list[i + 1] as string;
  }
  list.length = kept;
  const append = edit.append;
  for (let i = 0; i < append.length; i++) list.push(append[i] as string);
  if (edit.then !== undefined) applyHeaderEdit(list, edit.then);
}
