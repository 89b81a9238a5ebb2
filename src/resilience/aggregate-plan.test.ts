import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallError, compileAggregatePlan, runAggregate, type PlannedCall } from './aggregate-plan.ts';

const dashboard = {
  user: { service: 'users', path: '/users/{userId}' },
  orders: { service: 'orders', path: '/orders?user={userId}', optional: true },
  cart: { service: 'carts', path: '/carts/{user.cartId}', after: 'user', optional: true },
};

test('rejects an unknown dependency, a cycle and a field of a call not waited for', () => {
  assert.throws(
    () => compileAggregatePlan({ a: { service: 's', path: '/', after: 'x' } }),
    /unknown call "x"/,
  );
  assert.throws(
    () =>
      compileAggregatePlan({
        a: { service: 's', path: '/', after: 'b' },
        b: { service: 's', path: '/', after: 'a' },
      }),
    /cycle/,
  );
  assert.throws(
    () => compileAggregatePlan({ a: { service: 's', path: '/' }, b: { service: 's', path: '/{a.id}' } }),
    /does not run after "a"/,
  );
});

test('fills parameters and fields of earlier answers, percent-encoded', async () => {
  const paths: string[] = [];
  const outcome = await runAggregate(
    compileAggregatePlan(dashboard),
    { userId: 'u 1' },
    async (call, path) => {
      paths.push(path);
      if (call.name === 'user') return { id: 'u 1', cartId: 'c/9' };
      return { from: call.name };
    },
  );
  assert.deepEqual(paths.sort(), ['/carts/c%2F9', '/orders?user=u%201', '/users/u%201']);
  assert.deepEqual(outcome, {
    ok: true,
    body: { user: { id: 'u 1', cartId: 'c/9' }, orders: { from: 'orders' }, cart: { from: 'cart' } },
    errors: [],
  });
});

test('a failed optional call leaves its key null and is listed under errors', async () => {
  const outcome = await runAggregate(compileAggregatePlan(dashboard), { userId: '1' }, async (call) => {
    if (call.name === 'orders') throw new CallError('upstream_timeout', 'too slow', 504);
    return call.name === 'user' ? { cartId: 3 } : {};
  });
  assert.equal(outcome.ok, true);
  assert.ok(outcome.ok);
  assert.equal(outcome.body['orders'], null);
  assert.deepEqual(outcome.errors, [
    { call: 'orders', code: 'upstream_timeout', status: 504, detail: 'too slow' },
  ]);
});

test('a call that needs a failed optional call fails too, without being made', async () => {
  const made: string[] = [];
  const plan = compileAggregatePlan({
    a: { service: 's', path: '/a', optional: true },
    b: { service: 's', path: '/b/{a.id}', after: 'a', optional: true },
  });
  const outcome = await runAggregate(plan, {}, async (call: PlannedCall) => {
    made.push(call.name);
    throw new CallError('upstream_unavailable', 'down');
  });
  assert.deepEqual(made, ['a']);
  assert.ok(outcome.ok);
  assert.deepEqual(
    outcome.errors.map((e) => [e.call, e.code]),
    [
      ['a', 'upstream_unavailable'],
      ['b', 'dependency_failed'],
    ],
  );
});

test('a failed required call ends the aggregate at once and aborts the others', async () => {
  let aborted = false;
  const outcome = await runAggregate(
    compileAggregatePlan(dashboard),
    { userId: '1' },
    (call, _path, signal) => {
      if (call.name === 'user') return Promise.reject(new CallError('upstream_bad_response', 'garbage', 502));
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      });
    },
  );
  assert.deepEqual(outcome, {
    ok: false,
    failure: { call: 'user', code: 'upstream_bad_response', status: 502, detail: 'garbage' },
  });
  assert.equal(aborted, true);
});

test('a missing field fails the call that needs it with missing_field', async () => {
  const outcome = await runAggregate(compileAggregatePlan(dashboard), { userId: '1' }, async (call) =>
    call.name === 'user' ? { name: 'no cart' } : {},
  );
  assert.ok(outcome.ok);
  assert.deepEqual(
    outcome.errors.map((e) => [e.call, e.code]),
    [['cart', 'missing_field']],
  );
});

test('independent calls run in parallel: the time is that of the slowest path', async () => {
  const started: string[] = [];
  const pending = new Map<string, () => void>();
  const plan = compileAggregatePlan({
    a: { service: 's', path: '/a' },
    b: { service: 's', path: '/b' },
    c: { service: 's', path: '/c', after: 'a' },
  });
  const run = runAggregate(plan, {}, (call) => {
    started.push(call.name);
    return new Promise((resolve) => pending.set(call.name, () => resolve(call.name)));
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ['a', 'b'], 'a and b start together; c waits for a');
  pending.get('a')?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ['a', 'b', 'c']);
  pending.get('b')?.();
  pending.get('c')?.();
  assert.deepEqual(await run, { ok: true, body: { a: 'a', b: 'b', c: 'c' }, errors: [] });
});
