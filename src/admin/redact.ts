import type { Config } from '../config/schema.ts';

const secretKeys = new Set(['token', 'secret', 'apiKeys', 'password']);

/** A copy of the config with every secret replaced, for GET /v1/config. */
export function redactConfig(config: Config): unknown {
  return redact(config);
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = secretKeys.has(key) && inner !== undefined ? '[redacted]' : redact(inner);
  }
  // Collector headers usually carry an API key.
  if (typeof out.endpoint === 'string' && out.headers !== null && typeof out.headers === 'object') {
    out.headers = Object.fromEntries(Object.keys(out.headers).map((name) => [name, '[redacted]']));
  }
  if (typeof out.url === 'string' && /^rediss?:\/\/[^@]*:[^@]*@/.test(out.url)) {
    out.url = out.url.replace(/\/\/([^:@]*):[^@]*@/, '//$1:[redacted]@');
  }
  return out;
}
