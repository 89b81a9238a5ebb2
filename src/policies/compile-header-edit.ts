import type { HeaderEditConfig } from '../config/schema.ts';
import type { HeaderEdit } from './header-edit.ts';
import { compileTemplate, type TemplateSource, type ValueTemplate } from './value-template.ts';

/** A header transform ready for requests: the edit itself when no value has a placeholder. */
export interface CompiledHeaderEdit {
  /** Set when every value is constant: the same edit serves every request. */
  readonly constant: HeaderEdit | undefined;
  /** A copy of the edit with the values filled for one request. */
  resolve(source: TemplateSource): HeaderEdit;
}

export function compileHeaderEdit(config: HeaderEditConfig): CompiledHeaderEdit {
  const drop = new Set<string>();
  const renames = new Map<string, string>();
  const names: string[] = [];
  const templates: ValueTemplate[] = [];
  for (const name of config.remove ?? []) drop.add(name.toLowerCase());
  for (const [from, to] of Object.entries(config.rename ?? {})) renames.set(from.toLowerCase(), to);
  for (const [name, value] of Object.entries(config.set ?? {})) {
    drop.add(name.toLowerCase());
    names.push(name);
    templates.push(compileTemplate(value));
  }
  for (const [name, value] of Object.entries(config.add ?? {})) {
    names.push(name);
    templates.push(compileTemplate(value));
  }
  if (templates.every((template) => template.constant !== undefined)) {
    const edit: HeaderEdit = {
      drop,
      renames,
      append: names.flatMap((name, i) => [name, templates[i]?.constant as string]),
    };
    return { constant: edit, resolve: () => edit };
  }
  return {
    constant: undefined,
    resolve(source) {
      const append: string[] = [];
      for (let i = 0; i < names.length; i++)
        append.push(names[i] as string, (templates[i] as ValueTemplate).render(source));
      return { drop, renames, append };
    },
  };
}
