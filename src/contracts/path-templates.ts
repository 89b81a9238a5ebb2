/** A contract path template compiled for matching, e.g. `/users/{id}/orders/{orderId}`. */
export interface PathTemplate {
  readonly template: string;
  /** Names of the `{param}` captures, in order. */
  readonly params: readonly string[];
  readonly pattern: RegExp;
}

/** The values a request path gives a template's parameters (decoded). */
export interface TemplateMatch {
  readonly template: string;
  readonly params: Record<string, string>;
}

/**
 * The path templates of one contract, compiled once and grouped by segment count. Concrete paths win over
 * templated ones (OpenAPI 3: "when matching URLs, concrete (non-templated) paths would be matched before their
 * templated counterparts"); among templated ones, the one with more literal segments wins.
 *
 * @example
 * const paths = new PathTemplates(['/users/{id}', '/users/me']);
 * paths.match('/users/7'); // { template: '/users/{id}', params: { id: '7' } }
 */
export class PathTemplates {
  readonly #bySegments = new Map<number, PathTemplate[]>();

  constructor(templates: Iterable<string>) {
    for (const template of templates) {
      const compiled = compileTemplate(template);
      const count = segmentCount(template);
      let list = this.#bySegments.get(count);
      if (list === undefined) this.#bySegments.set(count, (list = []));
      list.push(compiled);
    }
    for (const list of this.#bySegments.values()) list.sort(bySpecificity);
  }

  /** The template the path belongs to, with its parameters; undefined when none matches. */
  match(path: string): TemplateMatch | undefined {
    const list = this.#bySegments.get(segmentCount(path));
    if (list === undefined) return undefined;
    for (const entry of list) {
      const found = entry.pattern.exec(path);
      if (found === null) continue;
      const params: Record<string, string> = {};
      for (let i = 0; i < entry.params.length; i++)
        params[entry.params[i] as string] = decode(found[i + 1] ?? '');
      return { template: entry.template, params };
    }
    return undefined;
  }
}

function compileTemplate(template: string): PathTemplate {
  const params: string[] = [];
  let source = '^';
  for (const part of template.split(/(\{[^}/]+\})/)) {
    if (part.startsWith('{') && part.endsWith('}')) {
      params.push(part.slice(1, -1));
      source += '([^/]+)';
    } else source += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  // A trailing slash is not a different operation for the clients of a gateway.
  source = source.replace(/\/$/, '') + '/?$';
  return { template, params, pattern: new RegExp(source) };
}

function segmentCount(path: string): number {
  let count = 0;
  const end = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
  for (let i = 0; i < end; i++) if (path.charCodeAt(i) === 47) count++;
  return count;
}

function bySpecificity(a: PathTemplate, b: PathTemplate): number {
  return a.params.length - b.params.length || b.template.length - a.template.length;
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
