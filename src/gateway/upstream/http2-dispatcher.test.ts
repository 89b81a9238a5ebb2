import assert from 'node:assert/strict';
import { createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Http2Dispatcher, type LegacyHandler } from './http2-dispatcher.ts';

interface Outcome {
  status?: number;
  headers?: Record<string, string>;
  body: Buffer[];
  trailers?: Record<string, string | string[] | undefined> | null;
  error?: Error & { code?: string };
}

/** Dispatches one POST and resolves with what the handler saw. */
function call(
  dispatcher: Http2Dispatcher,
  options: { headersTimeout?: number; path?: string } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = { body: [] };
    const handler: LegacyHandler = {
      onConnect() {},
      onHeaders(status, raw) {
        outcome.status = status;
        outcome.headers = {};
        for (let i = 0; i < raw.length; i += 2) outcome.headers[String(raw[i])] = String(raw[i + 1]);
        return true;
      },
      onData(chunk) {
        outcome.body.push(chunk);
        return true;
      },
      onComplete(trailers) {
        outcome.trailers = trailers;
        resolve(outcome);
      },
      onError(err) {
        outcome.error = err;
        resolve(outcome);
      },
    };
    dispatcher.dispatch(
      {
        path: options.path ?? '/pkg.Svc/Call',
        method: 'POST',
        headers: [
          'host',
          'example.test',
          'content-type',
          'application/grpc',
          'te',
          'trailers',
          'connection',
          'x',
        ],
        body: Buffer.from([0, 0, 0, 0, 0]),
        ...options,
      },
      handler,
    );
  });
}

/** A node:http2 server on port 0 and a dispatcher to it, closed after the test; counts the connections. */
async function serve(
  t: TestContext,
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void,
) {
  const server: Http2Server = createServer();
  let sessions = 0;
  server.on('session', () => sessions++);
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dispatcher = new Http2Dispatcher({
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connectTimeoutMs: 2_000,
  });
  t.after(async () => {
    await dispatcher.close();
    server.close();
  });
  return { dispatcher, sessions: () => sessions };
}

/** A gRPC answer: one empty message, then `grpc-status: 0` and `x-served` in the trailers. */
function answer(stream: ServerHttp2Stream): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-served': 'yes' }));
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
}

function answerAtEnd(stream: ServerHttp2Stream): void {
  stream.resume();
  stream.on('end', () => answer(stream));
}

test('relays the head, the body and the trailers, and multiplexes calls on one connection', async (t) => {
  const { dispatcher, sessions } = await serve(t, answerAtEnd);
  const outcomes = await Promise.all([call(dispatcher), call(dispatcher), call(dispatcher)]);
  for (const outcome of outcomes) {
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.status, 200);
    assert.equal(outcome.headers?.['content-type'], 'application/grpc');
    assert.deepEqual(Buffer.concat(outcome.body), Buffer.from([0, 0, 0, 0, 0]));
    assert.equal(outcome.trailers?.['grpc-status'], '0');
    assert.equal(outcome.trailers?.['x-served'], 'yes');
  }
  assert.equal(sessions(), 1);
});

test('sends host as :authority and leaves connection-specific headers out', async (t) => {
  let head: IncomingHttpHeaders = {};
  const { dispatcher } = await serve(t, (stream, headers) => {
    head = headers;
    answerAtEnd(stream);
  });
  assert.equal((await call(dispatcher)).error, undefined);
  assert.equal(head[':authority'], 'example.test');
  assert.equal(head[':method'], 'POST');
  assert.equal(head[':path'], '/pkg.Svc/Call');
  assert.equal(head.te, 'trailers');
  assert.equal(head.connection, undefined);
});

test('a refused connection fails with ECONNREFUSED, as undici reports it', async () => {
  const dispatcher = new Http2Dispatcher({ origin: 'http://127.0.0.1:1', connectTimeoutMs: 2_000 });
  const outcome = await call(dispatcher);
  assert.equal(outcome.error?.code, 'ECONNREFUSED');
  await dispatcher.close();
});

test('an instance that never answers fails the call with UND_ERR_HEADERS_TIMEOUT', async (t) => {
  const { dispatcher } = await serve(t, (stream) => {
    stream.resume();
  });
  const outcome = await call(dispatcher, { headersTimeout: 100 });
  assert.equal(outcome.error?.code, 'UND_ERR_HEADERS_TIMEOUT');
});

test('a call running when the instance sends GOAWAY finishes; the next one opens a new connection', async (t) => {
  let first: ServerHttp2Stream | undefined;
  const { dispatcher, sessions } = await serve(t, (stream) => {
    stream.resume();
    if (first === undefined) {
      first = stream;
      // A graceful shutdown: GOAWAY with the last stream id, then the running call answers.
      stream.session?.goaway(0, stream.id ?? 0);
      setTimeout(() => answer(stream), 50);
    } else answerAtEnd(stream);
  });
  const running = await call(dispatcher);
  assert.equal(running.error, undefined);
  assert.equal(running.trailers?.['grpc-status'], '0');
  const next = await call(dispatcher);
  assert.equal(next.error, undefined);
  assert.equal(sessions(), 2);
});

test('a reset stream fails with UND_ERR_SOCKET (a reset, retryable when nothing was answered)', async (t) => {
  const { dispatcher } = await serve(t, (stream) => {
    stream.close(2);
  });
  const outcome = await call(dispatcher);
  assert.equal(outcome.error?.code, 'UND_ERR_SOCKET');
});

test('a session idle for the keep-alive timeout is closed; a long stream is never cut by it', async (t) => {
  const server: Http2Server = createServer();
  let opened = 0;
  let closed = 0;
  server.on('session', (session) => {
    opened++;
    session.on('close', () => closed++);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/pkg.Svc/Slow') setTimeout(() => answerAtEnd(stream), 400);
    else answerAtEnd(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dispatcher = new Http2Dispatcher({
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connectTimeoutMs: 2_000,
    idleTimeoutMs: 150,
  });
  t.after(async () => {
    await dispatcher.close();
    server.close();
  });

  // A call longer than the idle timeout keeps its session.
  const slow = await call(dispatcher, { path: '/pkg.Svc/Slow' });
  assert.equal(slow.error, undefined);
  assert.equal(slow.status, 200);
  assert.equal(closed, 0);
  // Idle past the timeout: the session goes, and the next call opens a new one.
  const deadline = Date.now() + 5000;
  while (closed === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(closed, 1);
  assert.equal((await call(dispatcher)).error, undefined);
  assert.equal(opened, 2);
});
