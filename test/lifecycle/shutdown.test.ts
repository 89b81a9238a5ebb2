import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { request } from 'undici';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Resolves with the connect error code, or 'connected' when the port still accepts. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('SIGTERM lets an in-flight request finish, refuses new connections and exits 0', async (t) => {
  const slow = await startUpstream('slow');
  t.after(() => slow.close());
  slow.fault = { kind: 'delay', ms: 1000 };
  // The helper's echo waits for the request's 'end', which has already fired when a delay is over; answer directly.
  slow.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: 'slow' }));
  };
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
shutdownTimeout: 10s
services:
  slow: { instances: [{ url: "${slow.url}" }] }
routes:
  - { name: slow, match: { path: /slow/** }, service: slow }
`,
  );
  t.after(() => portico.stop('SIGKILL'));

  let finishedAt = 0;
  const inflight = request(`${portico.url}/slow/report`).then(async (res) => {
    const body = await res.body.text();
    finishedAt = Date.now();
    return { status: res.statusCode, body };
  });
  await eventually(() => assert.equal(slow.requests.length, 1));

  const signalledAt = Date.now();
  const exited = portico.stop('SIGTERM');
  await eventually(async () => assert.equal(await tryConnect(portico.port), 'ECONNREFUSED'), 2000, 10);
  assert.equal(finishedAt, 0, 'new connections must be refused while the slow request is still draining');

  const answer = await inflight;
  assert.equal(answer.status, 200);
  assert.equal((JSON.parse(answer.body) as { upstream: string }).upstream, 'slow');
  assert.equal(await exited, 0);
  const elapsed = Date.now() - signalledAt;
  assert.ok(elapsed < 4000, `exit took ${elapsed} ms after SIGTERM`);
  assert.match(portico.output(), /shutting down: draining/);
});

test('a shutdown with a hanging upstream still exits after shutdownTimeout', async (t) => {
  const hanging = await startUpstream('hanging');
  t.after(() => hanging.close());
  hanging.fault = { kind: 'hang' };
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
shutdownTimeout: 300ms
services:
  hanging: { instances: [{ url: "${hanging.url}" }], timeouts: { request: 60s } }
routes:
  - { name: hanging, match: { path: /hang/** }, service: hanging }
`,
  );
  t.after(() => portico.stop('SIGKILL'));

  const stuck = request(`${portico.url}/hang/forever`).then(
    async (res) => ({ status: res.statusCode, body: await res.body.text() }),
    (err: unknown) => ({ status: 0, body: String(err) }),
  );
  await eventually(() => assert.equal(hanging.requests.length, 1));

  const signalledAt = Date.now();
  const code = await portico.stop('SIGTERM');
  const elapsed = Date.now() - signalledAt;
  assert.equal(code, 0);
  assert.ok(elapsed >= 250, `exited after ${elapsed} ms, before the drain timeout`);
  assert.ok(elapsed < 3000, `exit took ${elapsed} ms with shutdownTimeout 300ms`);
  // The client is not left waiting: its connection is closed when the drain gives up.
  const answer = await stuck;
  assert.notEqual(answer.status, 200);
});
