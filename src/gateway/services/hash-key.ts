import type { RequestContext } from '../pipeline/request-context.ts';
import type { HashKeySource } from '../runtime/service-runtime.ts';

/** The consistent-hash key of a request, or undefined when the service does not hash. */
export function hashKeyOf(source: HashKeySource, ctx: RequestContext): string | undefined {
  switch (source.kind) {
    case 'none':
      return undefined;
    case 'ip':
      return ctx.clientIp;
    case 'header': {
      const value = ctx.req.headers[source.name];
      return Array.isArray(value) ? value[0] : value;
    }
    case 'cookie':
      return cookieValue(ctx.req.headers.cookie, source.name);
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
