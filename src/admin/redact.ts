import type { Config } from '../config/schema.ts';
import { secretsOf } from '../config/secrets.ts';

const secretKeys = new Set(['token', 'secret', 'apiKeys', 'password', 'hash', 'encryptionKey']);

/** A copy of the config with every secret replaced (by key, and every value read from a secret file), for GET /v1/config. */
export function redactConfig(config: Config): unknown {
  const out = redact(config);
  for (const path of secretsOf(config).paths) {
    let node: unknown = out;
    for (let i = 0; i < path.length - 1 && node !== null && typeof node === 'object'; i++) {
      node = (node as Record<string | number, unknown>)[path[i] as string | number];
    }
    const last = path.at(-1);
    if (last !== undefined && node !== null && typeof node === 'object' && last in node) {
      (node as Record<string | number, unknown>)[last] = '[redacted]';
    }
  }
  return out;
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
