/** What a cache key is built from, per request. */
export interface CacheKeySource {
  readonly path: string;
  readonly query: string;
  readonly consumer: string | undefined;
  readonly req: { readonly headers: Readonly<Record<string, string | string[] | undefined>> };
}

type KeyPart =
  | { readonly kind: 'method' }
  | { readonly kind: 'path' }
  | { readonly kind: 'query' }
  | { readonly kind: 'consumer' }
  | { readonly kind: 'host' }
  | { readonly kind: 'header'; readonly name: string };

/**
 * Compiles a route's `cache.key` into a function that renders readable keys in the configured order:
 * `people GET /people/7?full=1 accept-language=fr`. Purges by prefix follow the same text. HEAD is keyed as
 * GET: it is served from the GET answer.
 */
export function compileCacheKey(route: string, spec: readonly string[]): (source: CacheKeySource) => string {
  const parts: KeyPart[] = spec.map((text) =>
    text.startsWith('header:')
      ? { kind: 'header', name: text.slice(7).toLowerCase() }
      : { kind: text as 'method' | 'path' | 'query' | 'consumer' | 'host' },
  );
  return function cacheKey(source) {
    let key = route;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as KeyPart;
      switch (part.kind) {
        case 'method':
          key += ' GET';
          break;
        case 'path':
          key += ` ${source.path}`;
          break;
        case 'query':
          if (source.query !== '') key += `?${source.query}`;
          break;
        case 'consumer':
          key += ` consumer=${source.consumer ?? '-'}`;
          break;
        case 'host': {
          const host = source.req.headers.host;
          key += ` host=${typeof host === 'string' ? host.toLowerCase() : ''}`;
          break;
        }
        case 'header': {
          const value = source.req.headers[part.name];
          key += ` ${part.name}=${Array.isArray(value) ? value.join(',') : (value ?? '')}`;
        }
      }
    }
    return key;
  };
}
