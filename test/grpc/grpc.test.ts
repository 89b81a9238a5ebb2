import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  connect,
  createServer as createHttp2Server,
  type IncomingHttpHeaders,
  type Http2Server,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createCertificateFolder, type CertificateFolder, type TestCa } from '../helpers/certificates.ts';
import {
  EchoService,
  startGrpcEcho,
  type EchoClient,
  type GrpcEcho,
  type Msg,
} from '../helpers/grpc-echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

const apiKey = 'grpc-secret-key';

interface DecodedStatus {
  code: number;
  message: string;
  details: { typeUrl: string; value: Buffer }[];
}
const decoder = (
  grpc.loadPackageDefinition(
    protoLoader.loadSync(join(import.meta.dirname, 'rpc-status.proto'), { longs: Number, defaults: true }),
  ) as unknown as { portico: { test: { rpc: { Decoder: grpc.ServiceClientConstructor } } } }
).portico.test.rpc.Decoder.service;
/** Decodes a `google.rpc.Status` with protobufjs (through proto-loader's method deserializers). */
function decodeStatus(bytes: Buffer): DecodedStatus {
  return decoder.DecodeStatus!.responseDeserialize(bytes) as DecodedStatus;
}
function decodeRetryInfo(bytes: Buffer): { retryDelay: { seconds: number; nanos: number } } {
  return decoder.DecodeRetryInfo!.responseDeserialize(bytes) as {
    retryDelay: { seconds: number; nanos: number };
  };
}

interface UnaryOutcome {
  error: grpc.ServiceError | null;
  answer: Msg | undefined;
  trailers: grpc.Metadata | undefined;
}

function unary(
  client: EchoClient,
  msg: Msg,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<UnaryOutcome> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = client.Unary(msg, metadata, options, (error, answer) => {
      // The status event (with the trailers) comes right after the callback.
      setImmediate(() => resolve({ error, answer, trailers }));
    });
    call.on('status', (status: grpc.StatusObject) => (trailers = status.metadata));
  });
}

describe('gRPC through the gateway', () => {
  let certs: CertificateFolder;
  let ca: TestCa;
  let echo: GrpcEcho;
  let broken: GrpcEcho;
  /** SERVING as a whole server, NOT_SERVING for portico.test.Echo. */
  let named: GrpcEcho;
  /** An HTTP/2 upstream that never answers (and, unlike grpc-js, does not enforce grpc-timeout itself). */
  let silent: Http2Server;
  let silentStreams = 0;
  /** RST_STREAM codes of the silent upstream's streams, as they close. */
  const silentClosed: number[] = [];
  /** A raw HTTP/2 gRPC upstream answering every call after 50 ms; counts the connections it gets. */
  let counted: Http2Server;
  let countedSessions = 0;
  let portico: PorticoProcess;
  let h2cPort: number;
  let tlsPort: number;
  const clients: grpc.Client[] = [];
  const h2cClient = (): EchoClient => {
    const client = new EchoService(
      `127.0.0.1:${h2cPort}`,
      grpc.credentials.createInsecure(),
    ) as unknown as EchoClient;
    clients.push(client);
    return client;
  };

  before(async () => {
    certs = createCertificateFolder();
    ca = certs.createCa('grpc-ca');
    const site = ca.issue('site', { names: ['grpc.example.test'] });
    echo = await startGrpcEcho('echo-1');
    broken = await startGrpcEcho('broken', { unavailable: true });
    named = await startGrpcEcho('named');
    named.notServing.add('portico.test.Echo');
    silent = createHttp2Server();
    silent.on('stream', (stream) => {
      silentStreams++;
      stream.resume();
      stream.on('close', () => silentClosed.push(stream.rstCode ?? 0));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    counted = createHttp2Server();
    counted.on('session', () => countedSessions++);
    counted.on('stream', (stream) => {
      stream.resume();
      stream.on('end', () =>
        setTimeout(() => {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          // Msg { text: "counted" }
          stream.end(Buffer.from([0, 0, 0, 0, 9, 0x0a, 7, ...Buffer.from('counted')]));
        }, 50),
      );
    });
    await new Promise<void>((resolve) => counted.listen(0, '127.0.0.1', resolve));
    const countedPort = (counted.address() as AddressInfo).port;
    h2cPort = await freePort();
    tlsPort = await freePort();
    const hash = createHash('sha256').update(apiKey).digest('hex');
    portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true } }
  - address: 127.0.0.1:${tlsPort}
    tls: { certificates: [{ cert: ${site.certFile}, key: ${site.keyFile} }] }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: grpc-app, apiKeys: ["sha256:${hash}"] }
services:
  echo: { protocol: h2c, instances: [{ url: "${echo.url}" }] }
  down: { protocol: h2c, instances: [{ url: "http://127.0.0.1:1" }] }
  silent: { protocol: h2c, instances: [{ url: "http://127.0.0.1:${silentPort}" }] }
  counted: { protocol: h2c, instances: [{ url: "http://127.0.0.1:${countedPort}" }] }
  checked:
    protocol: h2c
    instances: [{ url: "${broken.url}" }, { url: "${echo.url}" }]
    healthCheck: { path: /grpc.health.v1.Health/Check, interval: 100ms, timeout: 1s, unhealthyThreshold: 1 }
  named:
    protocol: h2c
    instances: [{ url: "${named.url}" }, { url: "${echo.url}" }]
    healthCheck:
      path: /grpc.health.v1.Health/Check
      grpcService: portico.test.Echo
      interval: 100ms
      timeout: 1s
      unhealthyThreshold: 1
  retrying:
    protocol: h2c
    instances: [{ url: "${broken.url}" }, { url: "http://127.0.0.1:1" }, { url: "${echo.url}" }]
    retries: { attempts: 2, on: [connect-failure, 503], budget: 1 }
    outlierDetection: { consecutiveFailures: 1000 }
routes:
  - name: echo-limited
    match: { path: /portico.test.Echo/Unary, headers: { x-test-limit: "on" } }
    service: echo
    rateLimit: { limit: 1, window: 1m, by: ip }
  - name: echo-keys
    match: { path: /portico.test.Echo/**, headers: { x-test-auth: "on" } }
    service: echo
    auth: [apiKey]
  - name: echo-deadline
    match: { path: /portico.test.Echo/**, headers: { x-test-deadline: "on" } }
    service: echo
    timeout: 300ms
  - name: echo-retrying
    match: { path: /portico.test.Echo/**, headers: { x-test-retry: "on" } }
    service: retrying
  - name: echo-silent
    match: { path: /portico.test.Echo/**, headers: { x-test-silent: "on" } }
    service: silent
  - name: echo-checked
    match: { path: /portico.test.Echo/**, headers: { x-test-checked: "on" } }
    service: checked
  - name: echo-named
    match: { path: /portico.test.Echo/**, headers: { x-test-named: "on" } }
    service: named
  - name: echo-counted
    match: { path: /portico.test.Echo/**, headers: { x-test-counted: "on" } }
    service: counted
  - name: echo-down
    match: { path: /portico.test.Echo/**, headers: { x-test-down: "on" } }
    service: down
  - { name: echo, match: { path: /portico.test.Echo/** }, service: echo }
`,
    );
  });

  after(async () => {
    for (const client of clients) client.close();
    await portico?.stop();
    await echo?.close();
    await broken?.close();
    await named?.close();
    silent?.close();
    counted?.close();
    certs?.remove();
  });

  test('a unary call passes through h2c with its answer and trailing metadata', async () => {
    const { error, answer, trailers } = await unary(h2cClient(), { text: 'hello' });
    assert.equal(error, null);
    assert.equal(answer?.text, 'hello');
    assert.equal(answer?.servedBy, 'echo-1');
    assert.deepEqual(trailers?.get('x-served-by'), ['echo-1']);
  });

  test('a unary call over a TLS listener (ALPN h2)', async () => {
    const client = new EchoService(`127.0.0.1:${tlsPort}`, grpc.credentials.createSsl(Buffer.from(ca.cert)), {
      'grpc.ssl_target_name_override': 'grpc.example.test',
    }) as unknown as EchoClient;
    clients.push(client);
    const { error, answer } = await unary(client, { text: 'secure' });
    assert.equal(error, null);
    assert.equal(answer?.text, 'secure');
  });

  test('server streaming relays every message and the trailers', async () => {
    const call = h2cClient().ServerStream({ text: 'part', count: 5 });
    const texts: string[] = [];
    call.on('data', (msg: Msg) => texts.push(msg.text ?? ''));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(texts, ['part-0', 'part-1', 'part-2', 'part-3', 'part-4']);
    assert.deepEqual(status.metadata.get('x-served-by'), ['echo-1']);
  });

  test('client streaming sends every message before the answer', async () => {
    const answer = await new Promise<Msg>((resolve, reject) => {
      const call = h2cClient().ClientStream(new grpc.Metadata(), (err, msg) =>
        err === null ? resolve(msg as Msg) : reject(err),
      );
      for (let i = 1; i <= 4; i++) call.write({ text: `m${i}`, count: i });
      call.end();
    });
    assert.equal(answer.text, 'm1,m2,m3,m4');
    assert.equal(answer.count, 10);
  });

  test('bidirectional streaming interleaves requests and answers', async () => {
    const call = h2cClient().Bidi();
    const received: string[] = [];
    // Each message is sent only after the answer to the previous one came back: a buffered relay would hang.
    for (const text of ['a', 'b', 'c']) {
      call.write({ text });
      const msg = await new Promise<Msg>((resolve) => call.once('data', resolve));
      received.push(msg.text ?? '');
    }
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    assert.equal(status.code, grpc.status.OK);
    assert.deepEqual(received, ['echo:a', 'echo:b', 'echo:c']);
  });

  test('authentication failures are UNAUTHENTICATED, never problem+json', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-auth', 'on');
    const denied = await unary(h2cClient(), { text: 'x' }, metadata);
    assert.equal(denied.error?.code, grpc.status.UNAUTHENTICATED);
    assert.deepEqual(denied.error?.metadata.get('portico-error'), ['unauthorized']);
    metadata.set('x-api-key', apiKey);
    const allowed = await unary(h2cClient(), { text: 'x' }, metadata);
    assert.equal(allowed.error, null);
  });

  test('a rate limit answers RESOURCE_EXHAUSTED with retry-after', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-limit', 'on');
    const client = h2cClient();
    assert.equal((await unary(client, { text: 'one' }, metadata)).error, null);
    const limited = await unary(client, { text: 'two' }, metadata);
    assert.equal(limited.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    const retryAfter = Number(limited.error?.metadata.get('retry-after')[0]);
    assert.ok(retryAfter > 0);
    // google.rpc.RetryInfo in grpc-status-details-bin: the same delay, read as a gRPC client reads it.
    const [details] = limited.error?.metadata.get('grpc-status-details-bin') ?? [];
    assert.ok(Buffer.isBuffer(details), 'grpc-status-details-bin is sent');
    const status = decodeStatus(details);
    assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(status.message, limited.error?.details);
    assert.equal(status.details.length, 1);
    assert.equal(status.details[0]?.typeUrl, 'type.googleapis.com/google.rpc.RetryInfo');
    const retryInfo = decodeRetryInfo(status.details[0]?.value ?? Buffer.alloc(0));
    assert.deepEqual(retryInfo.retryDelay, { seconds: retryAfter, nanos: 0 });
  });

  test("the route's deadline answers DEADLINE_EXCEEDED from the gateway", async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-deadline', 'on');
    const late = await unary(h2cClient(), { text: 'slow:3000' }, metadata);
    assert.equal(late.error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(late.error?.metadata.get('portico-error'), ['deadline_exceeded']);
  });

  test('a deadline passing in the middle of a stream ends it with DEADLINE_EXCEEDED in the trailers', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-deadline', 'on');
    const call = h2cClient().ServerStream({ text: 'stall', count: 1 }, metadata);
    const texts: string[] = [];
    call.on('data', (msg: Msg) => texts.push(msg.text ?? ''));
    call.on('error', () => {});
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    assert.deepEqual(texts, ['first']);
    assert.equal(status.code, grpc.status.DEADLINE_EXCEEDED);
    assert.deepEqual(status.metadata.get('portico-error'), ['deadline_exceeded']);
  });

  test('grpc-timeout becomes the deadline of the call', async () => {
    // A raw HTTP/2 request, so the answer is the gateway's and not the client library's own timer.
    const session = connect(`http://127.0.0.1:${h2cPort}`);
    try {
      const frame = Buffer.from([0, 0, 0, 0, 11, 0x0a, 9, ...Buffer.from('slow:3000')]);
      const stream = session.request({
        ':method': 'POST',
        ':path': '/portico.test.Echo/Unary',
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': '200m',
        'x-test-silent': 'on',
      });
      stream.end(frame);
      const started = performance.now();
      const head = await new Promise<IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      stream.resume();
      await new Promise((resolve) => stream.on('close', resolve));
      assert.equal(head[':status'], 200);
      assert.equal(head['grpc-status'], String(grpc.status.DEADLINE_EXCEEDED));
      assert.equal(head['portico-error'], 'deadline_exceeded');
      assert.ok(performance.now() - started < 2500);
    } finally {
      session.close();
    }
  });

  test('an unknown service is UNIMPLEMENTED and an unreachable one UNAVAILABLE', async () => {
    const session = connect(`http://127.0.0.1:${h2cPort}`);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/other.Service/Call',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.end(Buffer.alloc(5));
      const head = await new Promise<IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      stream.resume();
      assert.equal(head['grpc-status'], String(grpc.status.UNIMPLEMENTED));
      assert.equal(head['content-type'], 'application/grpc');
    } finally {
      session.close();
    }
    const metadata = new grpc.Metadata();
    metadata.set('x-test-down', 'on');
    const down = await unary(h2cClient(), { text: 'x' }, metadata);
    assert.equal(down.error?.code, grpc.status.UNAVAILABLE);
    assert.deepEqual(down.error?.metadata.get('portico-error'), ['upstream_unavailable']);
  });

  test("the service's own error status and message pass through untouched", async () => {
    const failed = await unary(h2cClient(), { text: 'fail' });
    assert.equal(failed.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(failed.error?.details, 'echo-1 is failing');
    assert.deepEqual(failed.error?.metadata.get('portico-error'), []);
  });

  test('UNAVAILABLE before any message and refused connections are retried on another instance', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-retry', 'on');
    const client = h2cClient();
    for (let i = 0; i < 6; i++) {
      const { error, answer } = await unary(client, { text: `call-${i}` }, metadata);
      assert.equal(error, null);
      assert.equal(answer?.servedBy, 'echo-1');
    }
    assert.ok(broken.calls.length > 0, 'the failing instance was tried');
  });

  /** A gRPC frame of `Msg { text }` (field 1, length-delimited). */
  function msgFrame(text: string): Buffer {
    const body = Buffer.concat([Buffer.from([0x0a, text.length]), Buffer.from(text)]);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length, 1);
    return Buffer.concat([head, body]);
  }

  /** Splits a gRPC-Web answer body into its frames. */
  function framesOf(body: Buffer): { flag: number; payload: Buffer }[] {
    const frames = [];
    for (let at = 0; at + 5 <= body.length;) {
      const length = body.readUInt32BE(at + 1);
      frames.push({ flag: body[at] as number, payload: body.subarray(at + 5, at + 5 + length) });
      at += 5 + length;
    }
    return frames;
  }

  for (const text of [false, true]) {
    const type = text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';
    test(`gRPC-Web (${text ? 'text' : 'binary'}) over HTTP/1.1 is translated to gRPC and back`, async () => {
      const frame = msgFrame('web');
      const res = await fetch(`${portico.url}/portico.test.Echo/Unary`, {
        method: 'POST',
        headers: { 'content-type': type, 'x-grpc-web': '1' },
        body: text ? frame.toString('base64') : frame,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), type);
      const raw = Buffer.from(await res.arrayBuffer());
      const frames = framesOf(text ? Buffer.from(raw.toString('latin1'), 'base64') : raw);
      assert.equal(frames.length, 2);
      assert.equal(frames[0]?.flag, 0);
      assert.ok(frames[0]?.payload.includes(Buffer.from('echo-1')));
      assert.equal(frames[1]?.flag, 0x80);
      const trailers = frames[1]?.payload.toString('latin1') ?? '';
      assert.match(trailers, /grpc-status: 0\r\n/);
      assert.match(trailers, /x-served-by: echo-1\r\n/);
    });
  }

  test('a gateway error on a gRPC-Web call is a gRPC-Web status', async () => {
    const res = await fetch(`${portico.url}/other.Service/Call`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto' },
      body: msgFrame('x'),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('grpc-status'), String(grpc.status.UNIMPLEMENTED));
    assert.equal(res.headers.get('content-type'), 'application/grpc-web+proto');
    assert.equal(res.headers.get('portico-error'), 'route_not_found');
    await res.arrayBuffer();
  });

  test('the gRPC health check (grpc.health.v1.Health/Check) takes a NOT_SERVING instance out of rotation', async () => {
    broken.serving = false;
    try {
      const metadata = new grpc.Metadata();
      metadata.set('x-test-checked', 'on');
      const client = h2cClient();
      // Once the check has run, every call goes to the SERVING instance (the other answers UNAVAILABLE).
      await eventually(async () => {
        for (let i = 0; i < 4; i++) assert.equal((await unary(client, { text: 'hc' }, metadata)).error, null);
      });
      broken.serving = true;
      await eventually(async () => {
        const outcome = await unary(client, { text: 'hc' }, metadata);
        assert.equal(outcome.error?.code, grpc.status.UNAVAILABLE);
      });
    } finally {
      broken.serving = true;
    }
  });

  test('a health check of one named gRPC service takes out an instance whose server as a whole is SERVING', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-named', 'on');
    const client = h2cClient();
    await eventually(async () => {
      for (let i = 0; i < 4; i++) {
        const outcome = await unary(client, { text: 'named' }, metadata);
        assert.equal(outcome.error, null);
        assert.equal(outcome.answer?.servedBy, 'echo-1');
      }
    });
    named.notServing.clear();
    await eventually(async () => {
      const served = new Set<string>();
      for (let i = 0; i < 4; i++)
        served.add((await unary(client, { text: 'named' }, metadata)).answer?.servedBy ?? '');
      assert.ok(served.has('named'), 'the instance is back once its service is SERVING');
    });
  });

  test('concurrent calls to an instance share one multiplexed HTTP/2 connection', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-counted', 'on');
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => unary(h2cClient(), { text: `call-${i}` }, metadata)),
    );
    for (const outcome of outcomes) {
      assert.equal(outcome.error, null);
      assert.equal(outcome.answer?.text, 'counted');
    }
    assert.equal(countedSessions, 1);
  });

  test('a call the client cancels is cancelled on the instance too', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-test-silent', 'on');
    const before = silentStreams;
    const closedBefore = silentClosed.length;
    const call = h2cClient().Unary({ text: 'cancel me' }, metadata, {}, () => {});
    await eventually(() => silentStreams > before);
    call.cancel();
    await eventually(() => assert.equal(silentClosed.length, closedBefore + 1));
    assert.equal(silentClosed.at(-1), 8); // NGHTTP2_CANCEL
  });
});
