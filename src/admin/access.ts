import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.ts';

/** Who called the admin listener, and with which role. */
export interface Principal {
  /** The token's name (`admin.token` for the single admin token; `anonymous` when no token is configured). */
  readonly name: string;
  /** `admin`, `read` or `service:NAME`. */
  readonly role: string;
}

/** What a principal may do, as the dashboard and `GET /v1/whoami` show it. */
export interface Permissions {
  readonly read: boolean;
  readonly reloadConfig: boolean;
  /** `*` for every service, else the one service whose instances this token may write. */
  readonly registerServices: readonly string[];
}

/** The tokens of one configuration, compiled once into a lookup by digest. */
export interface AccessTable {
  /** False when no token is configured: the admin listener is then open (loopback only, checked by validation). */
  readonly protected: boolean;
  /** The principal of an `Authorization: Bearer …` header, or undefined when it is missing or unknown. */
  identify(authorization: string | undefined): Principal | undefined;
}

const ANONYMOUS: Principal = { name: 'anonymous', role: 'admin' };
const tables = new WeakMap<Config, AccessTable>();

/**
 * The access table of `config`, built on first use and kept for the life of that config object.
 *
 * @example accessTableOf(config).identify('Bearer s3cret-token')?.role // 'service:orders'
 */
export function accessTableOf(config: Pick<Config, 'admin' | 'tokens'>): AccessTable {
  const cached = tables.get(config as Config);
  if (cached !== undefined) return cached;
  // Keyed by the SHA-256 of the token: the lookup compares digests, whose prefixes a caller cannot steer,
  // so a Map lookup leaks nothing useful through its timing (as for consumers' API keys).
  const byDigest = new Map<string, Principal>();
  for (const token of config.tokens) {
    byDigest.set(token.hash.slice('sha256:'.length).toLowerCase(), { name: token.name, role: token.role });
  }
  if (config.admin.token !== undefined) {
    byDigest.set(sha256Hex(config.admin.token), { name: 'admin.token', role: 'admin' });
  }
  const table: AccessTable = {
    protected: byDigest.size > 0,
    identify(authorization) {
      if (byDigest.size === 0) return ANONYMOUS;
      if (authorization === undefined || !authorization.startsWith('Bearer ')) return undefined;
      return byDigest.get(sha256Hex(authorization.slice(7)));
    },
  };
  tables.set(config as Config, table);
  return table;
}

/**
 * Whether `principal` may call `method` on the admin endpoint `routePath` (its pattern, such as
 * `/v1/services/{service}/instances/{id}`) with path parameters `params`. Reads are open to every
 * role; a service token writes only the instances of its own service; only `admin` does the rest.
 */
export function mayCall(
  principal: Principal,
  method: string,
  routePath: string,
  params: Readonly<Record<string, string>>,
): boolean {
  if (principal.role === 'admin') return true;
  if (method === 'GET' || method === 'HEAD') return true;
  if (!principal.role.startsWith('service:')) return false;
  return (
    routePath.startsWith('/v1/services/{service}/instances/') && params.service === principal.role.slice(8)
  );
}

/** The permissions of a principal, for display. */
export function permissionsOf(principal: Principal): Permissions {
  if (principal.role === 'admin') return { read: true, reloadConfig: true, registerServices: ['*'] };
  if (principal.role.startsWith('service:')) {
    return { read: true, reloadConfig: false, registerServices: [principal.role.slice(8)] };
  }
  return { read: true, reloadConfig: false, registerServices: [] };
}

/** Hex SHA-256 of a token, as `tokens[].hash` stores it (after `sha256:`). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
