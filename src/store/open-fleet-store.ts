import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { createEmbeddedFleetStore } from './embedded-fleet-store.ts';
import type { FleetStore } from './fleet-store.ts';
import { redisTargetOf, type RedisTargetConfig } from './redis-connection.ts';
import { createRedisFleetStore } from './redis-fleet-store.ts';

/** The fields of a `store` section that say where the store is. */
export type StoreLocation = Pick<Config['store'], 'kind' | 'path' | 'prefix'> & RedisTargetConfig;

/**
 * Opens the fleet store beside the registry the config's `store` section names; an embedded store's folder is
 * relative to `baseDir` (the config file's folder), as for the registry.
 *
 * @example const fleet = await openFleetStore(config.store, dirname(resolve(configFile)));
 */
export function openFleetStore(store: StoreLocation, baseDir: string): Promise<FleetStore> {
  if (store.kind === 'redis')
    return createRedisFleetStore({ url: redisTargetOf(store), prefix: store.prefix });
  return createEmbeddedFleetStore({ path: resolve(baseDir, store.path) });
}

/**
 * The store a node started with `--config-from-store` (or a `portico config` command with `--store`) reads before it
 * has any configuration: `redis://…` / `rediss://…` (one Redis server), or `embedded:PATH` (the embedded store's
 * folder). Returns where the store is, with `prefix` (default `portico:`), or an error message.
 *
 * @example parseStoreLocation('redis://10.0.0.5:6379', 'portico:') // { kind: 'redis', url: 'redis://10.0.0.5:6379', path: './.portico', prefix: 'portico:' }
 */
export function parseStoreLocation(location: string, prefix = 'portico:'): StoreLocation | string {
  const defaults = { path: './.portico', prefix };
  if (/^rediss?:\/\//.test(location)) return { ...defaults, kind: 'redis', url: location };
  if (location.startsWith('embedded:') && location.length > 'embedded:'.length)
    return { ...defaults, kind: 'embedded', path: location.slice('embedded:'.length) };
  return `--store must be redis://HOST:PORT, rediss://HOST:PORT or embedded:PATH (got "${location}")`;
}
