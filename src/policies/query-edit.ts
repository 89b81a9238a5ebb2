import { compileTemplate, type TemplateSource, type ValueTemplate } from './value-template.ts';

/**
 * Query parameters set or removed. Hand-written rather than URLSearchParams: that would re-encode every
 * parameter the transform does not name (spaces, `+`, unusual escapes), and an upstream that signs or
 * hashes its query must receive them as the client wrote them.
 */
export interface QueryEdit {
  apply(query: string, source: TemplateSource): string;
}

export function compileQueryEdit(set: Record<string, string>, remove: readonly string[]): QueryEdit {
  const dropped = new Set<string>([...remove, ...Object.keys(set)]);
  const added: [string, ValueTemplate][] = Object.entries(set).map(([name, value]) => [
    encodeURIComponent(name),
    compileTemplate(value),
  ]);
  return {
    apply(query, source) {
      let out = '';
      if (query !== '') {
        for (const pair of query.split('&')) {
          if (pair === '') continue;
          const eq = pair.indexOf('=');
          const rawName = eq < 0 ? pair : pair.slice(0, eq);
          if (dropped.has(decodeName(rawName))) continue;
          out = out === '' ? pair : `${out}&${pair}`;
        }
      }
      for (const [name, template] of added) {
        const pair = `${name}=${encodeURIComponent(template.render(source))}`;
        out = out === '' ? pair : `${out}&${pair}`;
      }
      return out;
    },
  };
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}
