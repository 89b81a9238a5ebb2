import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createJwksCache } from './jwks-cache.ts';

const token = { payload: '', signature: '' };

async function jwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256');
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES256' };
}

function setup(initial: JWK[]) {
  const state = { keys: initial, down: false, fetches: 0, now: 0 };
  const cache = createJwksCache({
    url: 'https://id.test/jwks',
    ttlMs: 60_000,
    cooldownMs: 10_000,
    now: () => state.now,
    fetch: async () => {
      state.fetches++;
      if (state.down) throw new Error('down');
      return { keys: state.keys };
    },
  });
  return { state, cache };
}

test('fetches once and serves known kids from memory', async () => {
  const { state, cache } = setup([await jwk('a')]);
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  assert.equal(state.fetches, 1);
});

test('an unknown kid refetches, but at most once per cooldown', async () => {
  const { state, cache } = setup([await jwk('a')]);
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  state.keys = [...state.keys, await jwk('b')];
  await assert.rejects(cache.getKey({ alg: 'ES256', kid: 'b' }, token));
  assert.equal(state.fetches, 1, 'still inside the cooldown of the first fetch');
  state.now = 10_000;
  await cache.getKey({ alg: 'ES256', kid: 'b' }, token);
  assert.equal(state.fetches, 2);
  await assert.rejects(cache.getKey({ alg: 'ES256', kid: 'zzz' }, token));
  await assert.rejects(cache.getKey({ alg: 'ES256', kid: 'yyy' }, token));
  assert.equal(state.fetches, 2, 'made-up kids inside the cooldown cause no fetch');
});

test('keeps the last good keys while the endpoint is down, and refreshes after the TTL', async () => {
  const { state, cache } = setup([await jwk('a')]);
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  state.down = true;
  state.now = 120_000;
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(state.fetches, 2, 'the expired keys triggered one background refresh');
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  assert.equal(state.fetches, 2, 'a failed refresh is not retried before the cooldown');
  state.down = false;
  state.keys = [await jwk('c')];
  state.now = 130_000;
  await cache.getKey({ alg: 'ES256', kid: 'a' }, token);
  await new Promise((resolve) => setImmediate(resolve));
  await cache.getKey({ alg: 'ES256', kid: 'c' }, token);
  assert.equal(state.fetches, 3);
});

test('without any keys yet, a down endpoint refuses tokens instead of hanging', async () => {
  const { state, cache } = setup([]);
  state.down = true;
  await assert.rejects(cache.getKey({ alg: 'ES256', kid: 'a' }, token));
  assert.equal(cache.loaded, false);
});
