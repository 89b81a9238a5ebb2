import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAddressPolicy } from '../../src/registry/address-policy.ts';
import { createRegistry } from '../../src/registry/registry.ts';
import { createEmbeddedStore } from '../../src/store/embedded-store.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'register-and-hold.ts');

test('a registration that resolved survives SIGKILL of its process and gets a lease grace after restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-durability-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const expiresAt = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const match = /registered (\d+)\n/.exec(out);
      // Killed the moment the write resolved: nothing after it gets a chance to flush or close.
      if (match !== null) {
        child.kill('SIGKILL');
        resolve(Number(match[1]));
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`fixture exited early: ${code}`));
    });
  });
  await new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve),
  );
  assert.equal(child.signalCode, 'SIGKILL');

  const store = await createEmbeddedStore({ path: dir });
  t.after(() => store.close());
  const snapshot = await store.snapshot();
  assert.deepEqual(
    snapshot.instances.map((i) => [i.service, i.id, i.url, i.expiresAt]),
    [['orders', 'o-1', 'http://127.0.0.1:3001/', expiresAt]],
  );

  // Restart long after the lease ended: it is given one more TTL before the sweep may remove it.
  let now = expiresAt + 60_000;
  const registry = createRegistry({
    store,
    addressPolicy: createAddressPolicy(),
    clock: () => now,
    timers: { setInterval: () => undefined, clearInterval: () => undefined },
  });
  await registry.start();
  t.after(() => registry.close());
  assert.equal(registry.getInstance('orders', 'o-1')?.expiresAt, now + 5_000);
  assert.deepEqual(await registry.sweep(), []);
  now += 3_000;
  await registry.heartbeat('orders', 'o-1');
  now += 4_000;
  assert.deepEqual(await registry.sweep(), [], 'a renewed lease outlives the grace');
  now += 1_001;
  assert.deepEqual(
    (await registry.sweep()).map((c) => [c.reason, c.id]),
    [['expire', 'o-1']],
  );
});

test('after a restart, a lease that is not renewed expires once its grace ends', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-grace-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let now = 1_000_000;
  const options = {
    addressPolicy: createAddressPolicy(),
    clock: () => now,
    timers: { setInterval: () => undefined, clearInterval: () => undefined },
  };
  const first = await createEmbeddedStore({ path: dir });
  const before = createRegistry({ ...options, store: first });
  await before.start();
  await before.register('orders', 'o-1', { url: 'http://127.0.0.1:1', version: '1.0.0', ttl: '2s' });
  await before.register('orders', 'o-2', { url: 'http://127.0.0.1:2', version: '1.0.0', ttl: '1h' });
  await before.close();
  await first.close();

  now += 10_000;
  const store = await createEmbeddedStore({ path: dir });
  t.after(() => store.close());
  const registry = createRegistry({ ...options, store, leaseGraceMs: 3_000 });
  await registry.start();
  t.after(() => registry.close());
  now += 3_000;
  assert.deepEqual(await registry.sweep(), []);
  now += 1;
  assert.deepEqual(
    (await registry.sweep()).map((c) => c.id),
    ['o-1'],
  );
  assert.ok(
    registry.getInstance('orders', 'o-2') !== undefined,
    'a lease longer than the grace keeps its end',
  );
});
