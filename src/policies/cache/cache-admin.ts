import { Counter, Gauge, type Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../../admin/admin-route.ts';
import { sendJson } from '../../admin/json-body.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { currentCacheState } from './cache-state.ts';

/**
 * `GET /v1/cache`: size and per-route counts (hit ratio). `DELETE /v1/cache?key=KEY` removes one key,
 * `DELETE /v1/cache?prefix=PREFIX` every key starting with it (`prefix=` empties the cache). Keys read like
 * `people GET /people/7?full=1` (route name, then the route's `cache.key` parts in order).
 *
 * @example
 * adminRoutes.push(...createCacheAdminRoutes(stageState));
 */
export function createCacheAdminRoutes(shared: ReadonlyMap<string, unknown>): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/cache',
      handler: function cacheStatus(_req, res) {
        const state = currentCacheState(shared);
        const routes: Record<string, unknown> = {};
        for (const [route, line] of state?.stats ?? []) {
          const looked = line.hit + line.stale + line.miss;
          routes[route] = { ...line, hitRatio: looked === 0 ? 0 : (line.hit + line.stale) / looked };
        }
        sendJson(res, 200, {
          bytes: state?.store.bytes ?? 0,
          maxBytes: state?.store.maxBytes ?? 0,
          keys: state?.store.entries ?? 0,
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
        const state = currentCacheState(shared);
        let purged = 0;
        for (const store of [state?.store, state?.redis]) {
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

/** `portico_cache_requests_total{route,result}`, `portico_cache_size_bytes` and `portico_cache_keys`, read at scrape time. */
export function registerCacheMetrics(registry: MetricsRegistry, shared: ReadonlyMap<string, unknown>): void {
  new Counter({
    name: 'portico_cache_requests_total',
    help: 'Requests on cached routes by outcome (hit, stale, miss, bypass) since the node started.',
    labelNames: ['route', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, line] of currentCacheState(shared)?.stats ?? []) {
        this.inc({ route, result: 'hit' }, line.hit);
        this.inc({ route, result: 'stale' }, line.stale);
        this.inc({ route, result: 'miss' }, line.miss);
        this.inc({ route, result: 'bypass' }, line.bypass);
      }
    },
  });
  new Gauge({
    name: 'portico_cache_size_bytes',
    help: 'Bytes held by the in-memory response cache.',
    registers: [registry],
    collect() {
      this.set(currentCacheState(shared)?.store.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'portico_cache_keys',
    help: 'Keys held by the in-memory response cache.',
    registers: [registry],
    collect() {
      this.set(currentCacheState(shared)?.store.entries ?? 0);
    },
  });
}
