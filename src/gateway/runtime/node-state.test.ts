import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { eventually } from '../../../test/helpers/eventually.ts';
import { sharedRedisUrl } from '../../../test/helpers/redis-server.ts';
import { configOf } from '../../../test/helpers/stage-kit.ts';
import { RouteStatsTable } from '../../observability/route-stats.ts';
import type { Instance } from '../upstream/instance.ts';
import { compileRuntime, type CompileDependencies, type Runtime } from './compile-runtime.ts';
import { NodeState } from './node-state.ts';

/** A TCP relay to the test Redis that counts the connections made through it and those still open. */
async function countingRelay() {
  const target = new URL(sharedRedisUrl);
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    open.add(client);
    const upstream = connect(Number(target.port || 6379), target.hostname);
    const end = (): void => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get accepted() {
      return accepted;
    },
    get open() {
      return open.size;
    },
    close(): Promise<void> {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A node whose rate limits and cache live in Redis, a breaker per instance, and a mirrored route. */
function configWith(redisUrl: string, prefix: string, instances: readonly string[]) {
  const list = instances.map((id, i) => `{ id: ${id}, url: "http://127.0.0.1:${9 + i}" }`).join(', ');
  return configOf(`
store: { kind: redis, url: "${redisUrl}", prefix: "${prefix}" }
services:
  users:
    instances: [${list}]
    circuitBreaker: { failureRate: 0.5, minRequests: 1, window: 10s, openFor: 30s }
routes:
  - { name: limited, match: { path: /l }, service: users, rateLimit: { limit: 5, window: 1m, by: ip } }
  - { name: cached, match: { path: /c }, service: users, cache: { store: redis } }
  - { name: mirrored, match: { path: /m }, service: users, mirror: { service: users } }
`);
}

function breakersOf(table: Runtime): number {
  return table.services.get('users')?.resilience?.breakerCount ?? -1;
}

test('compiling a table twice without swapping opens nothing; the swap opens what it claimed, disposes what only the old table held and prunes its breakers', async (t) => {
  const relay = await countingRelay();
  const state = new NodeState();
  t.after(async () => {
    await state.close();
    await relay.close();
  });
  const deps: CompileDependencies = {
    stats: new RouteStatsTable(),
    observer: { upstreamError() {} },
    state,
  };
  const prefix = `portico-test:${randomUUID()}:`;
  const first = compileRuntime(configWith(relay.url, prefix, ['a', 'b', 'c']), deps);
  const second = compileRuntime(configWith(relay.url, prefix, ['a', 'b', 'c']), deps);
  assert.notEqual(first.state, second.state);
  assert.equal(state.openParts, 0, 'no part of either table is held by the node before a swap');
  assert.equal(state.resilienceOf('users'), undefined, 'no breakers in the node state before a swap');
  assert.equal(state.cache().memory, undefined);
  assert.equal(state.cacheStats.size + state.mirrorStats.size, 0, 'no per-route counts before a swap');
  // A connection made after both compiles, answered by Redis through the relay: anything the compiles had
  // started to open would have reached the relay first.
  const probe = new Redis(relay.url, { lazyConnect: true });
  await probe.connect();
  assert.equal(await probe.ping(), 'PONG');
  assert.equal(relay.accepted, 1, 'only the probe connected');
  probe.disconnect();
  await eventually(() => assert.equal(relay.open, 0));

  state.commit(second.state, second.services);
  // The Redis rate limiter and the shared cache store of the table now serving.
  await eventually(() => assert.equal(relay.open, 2));
  assert.equal(relay.accepted, 3);
  assert.equal(state.openParts, 3, 'rate limiter, cache store and mirror agent');
  assert.equal(state.resilienceOf('users'), second.services.get('users')?.resilience);
  assert.deepEqual([...state.cacheStats.keys()], ['cached']);
  assert.deepEqual([...state.mirrorStats.keys()], ['mirrored']);

  const users = second.services.get('users');
  for (const instance of users?.instances.all ?? []) users?.resilience?.breakerOf(instance as Instance);
  assert.equal(breakersOf(second), 3);

  // A reload to another prefix with one instance left: compiling it keeps every breaker and connection…
  const third = compileRuntime(configWith(relay.url, `${prefix}next:`, ['a']), { ...deps, previous: second });
  assert.equal(third.services.get('users')?.resilience, users?.resilience, 'same breaker config: kept');
  assert.equal(breakersOf(second), 3);
  assert.equal(relay.accepted, 3);
  // …the swap connects the new stores, closes the old ones and forgets the breakers of instances that left.
  state.commit(third.state, third.services);
  assert.deepEqual(Object.keys(users?.resilience?.snapshot().instances ?? {}), ['a']);
  await eventually(() => assert.equal(relay.accepted, 5));
  await eventually(() => assert.equal(relay.open, 2));

  await state.close();
  await eventually(() => assert.equal(relay.open, 0));
});

test('a part whose settings are unchanged is the serving table’s own: counters and fetched keys survive a reload', () => {
  const state = new NodeState();
  const jwks = { url: 'https://issuer.example/jwks.json', ttlMs: 600_000, cooldownMs: 30_000 };
  const first = state.prepare();
  const keys = first.jwksCache(jwks);
  const store = first.memoryCache(1024);
  assert.equal(first.jwksCache(jwks), keys, 'one compile shares its parts');
  assert.notEqual(state.prepare().jwksCache(jwks), keys, 'a part nobody committed is not reused');
  state.commit(first, new Map());
  assert.equal(state.cache().memory, store);
  const next = state.prepare();
  assert.equal(next.jwksCache(jwks), keys);
  assert.equal(next.memoryCache(1024), store);
  assert.notEqual(next.jwksCache({ ...jwks, ttlMs: 1 }), keys, 'other settings, another cache');
  assert.notEqual(state.prepare().memoryCache(2048), store, 'a new size starts an empty store');
  assert.equal(next.node.localRateLimiter, state.localRateLimiter);
  // A table that caches nothing drops the store of the one before.
  state.commit(state.prepare(), new Map());
  assert.equal(state.cache().memory, undefined);
});
