import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { createIpcPeer, type IpcChannel } from './ipc.ts';

/** Two connected in-memory channel ends; messages pass through JSON, as over real IPC. */
function channelPair(): [IpcChannel, IpcChannel] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const end = (self: EventEmitter, other: EventEmitter): IpcChannel => ({
    send(message, onError) {
      const copy: unknown = JSON.parse(JSON.stringify(message));
      setImmediate(() => {
        other.emit('message', copy);
        onError(null);
      });
    },
    on: (event, listener) => self.on(event, listener),
    off: (event, listener) => self.off(event, listener),
  });
  return [end(a, b), end(b, a)];
}

test('a request gets the answer of a sync or async handler, and a throw rejects with its message', async () => {
  const [left, right] = channelPair();
  const caller = createIpcPeer(left);
  const callee = createIpcPeer(right);
  callee.handle('double', (n) => (n as number) * 2);
  callee.handle('later', async (n) => `got ${String(n)}`);
  callee.handle('sync-throw', () => {
    throw new Error('sync boom');
  });
  callee.handle('async-throw', async () => {
    throw new Error('async boom');
  });
  assert.equal(await caller.request<number>('double', 21), 42);
  assert.equal(await caller.request<string>('later', 7), 'got 7');
  await assert.rejects(caller.request('sync-throw'), { message: 'sync boom' });
  await assert.rejects(caller.request('async-throw'), { message: 'async boom' });
  await assert.rejects(caller.request('missing'), { message: 'no handler for "missing"' });
});

test('a request without an answer times out, and close rejects what is pending and later calls', async () => {
  const [left] = channelPair();
  const caller = createIpcPeer(left);
  await assert.rejects(caller.request('nobody', undefined, 20), {
    message: '"nobody" got no answer in 20 ms',
  });
  const pending = caller.request('nobody');
  caller.close('the worker exited');
  await assert.rejects(pending, { message: 'the worker exited' });
  await assert.rejects(caller.request('again'), { message: 'the worker exited' });
});
