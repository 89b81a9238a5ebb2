import { Counter, Gauge, type Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { CacheView } from './cache-state.ts';

/**
 * `GET /v1/cache`: size and per-route counts (hit ratio). `DELETE /v1/cache?key=KEY` removes one key,
 * `DELETE /v1/cache?prefix=PREFIX` every key starting with it (`prefix=` empties the cache). Keys read like
 * `people GET /people/7?full=1` (route name, then the route's `cache.key` parts in order).
 *
 * @example
 * adminRoutes.push(...createCacheAdminRoutes(() => nodeState.cache()));
 */
export function createCacheAdminRoutes(cache: () => CacheView): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/cache',
      handler: function cacheStatus(_req, res) {
        const state = cache();
        const routes: Record<string, unknown> = {};
        for (const [route, line] of state.stats) {
          const looked = line.hit + line.stale + line.miss;
          routes[route] = { ...line, hitRatio: looked === 0 ? 0 : (line.hit + line.stale) / looked };
        }
        sendJson(res, 200, {
          bytes: state.memory?.bytes ?? 0,
          maxBytes: state.memory?.maxBytes ?? 0,
          keys: state.memory?.entries ?? 0,
          routes,
        });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/cache',
      handler: async function purgeCache(_req, res, { url }) {
        const key = url.searchParams.get('key');
        const prefix = url.searchParams.get('prefix');
        if ((key === null) === (prefix === null))
          throw new PorticoError('bad_request', 'give exactly one of ?key=KEY or ?prefix=PREFIX');
        const state = cache();
        let purged = 0;
        for (const store of [state.memory, ...state.shared]) {
          if (store === undefined) continue;
          try {
            purged += await (key !== null ? store.purgeKey(key) : store.purgePrefix(prefix ?? ''));
          } catch {
            throw new PorticoError('store_unavailable', 'the shared cache store (Redis) is unreachable');
          }
        }
        sendJson(res, 200, { purged });
      },
    },
  ];
}

/**
 * `portico_cache_requests_total{route,result}`, `portico_cache_compressions_total{route}`,
 * `portico_cache_size_bytes` and `portico_cache_keys`, read at scrape time.
 */
export function registerCacheMetrics(registry: MetricsRegistry, cache: () => CacheView): void {
  new Counter({
    name: 'portico_cache_requests_total',
    help: 'Requests on cached routes by outcome (hit, stale, miss, bypass) since the node started.',
    labelNames: ['route', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, line] of cache().stats) {
        this.inc({ route, result: 'hit' }, line.hit);
        this.inc({ route, result: 'stale' }, line.stale);
        this.inc({ route, result: 'miss' }, line.miss);
        this.inc({ route, result: 'bypass' }, line.bypass);
      }
    },
  });
  new Counter({
    name: 'portico_cache_compressions_total',
    help: 'Stored answers compressed into another content-coding and kept, since the node started.',
    labelNames: ['route'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, line] of cache().stats) this.inc({ route }, line.compressed);
    },
  });
  new Gauge({
    name: 'portico_cache_size_bytes',
    help: 'Bytes held by the in-memory response cache.',
    registers: [registry],
    collect() {
      this.set(cache().memory?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'portico_cache_keys',
    help: 'Keys held by the in-memory response cache.',
    registers: [registry],
    collect() {
      this.set(cache().memory?.entries ?? 0);
    },
  });
}
