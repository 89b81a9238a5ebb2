import type { Config, ListenerConfig } from './schema.ts';

/**
 * The client listeners of a config as a list: `listen: host:port` is one plain listener, an object is one
 * listener, an array is several.
 *
 * @example listenersOf({ listen: '127.0.0.1:8080' } as Config) // [{ address: '127.0.0.1:8080' }]
 */
export function listenersOf(config: Pick<Config, 'listen'>): readonly ListenerConfig[] {
  const listen = config.listen;
  if (typeof listen === 'string') return [{ address: listen }];
  return Array.isArray(listen) ? listen : [listen];
}
