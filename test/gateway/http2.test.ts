import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { createCertificateFolder, type CertificateFolder, type TestCa } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  Flag,
  FrameType,
  frame,
  getRequestBlock,
  headers,
  indexed,
  literalIndexed,
  openRawH2,
  ping,
  rstStream,
} from '../helpers/h2-frames.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const run = promisify(execFile);
const apiKey = 'h2-secret-key';

interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on an HTTP/2 session (node:http2, a real client). */
function h2Get(
  session: ClientHttp2Session,
  path: string,
  extra: Record<string, string> = {},
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...extra });
    let body = '';
    let head: IncomingHttpHeaders = {};
    stream.setEncoding('utf8');
    stream.on('response', (h) => (head = h));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body }));
    stream.on('error', reject);
    stream.end();
  });
}

describe('HTTP/2 listeners', () => {
  let certs: CertificateFolder;
  let ca: TestCa;
  let upstream: TestUpstream;
  let portico: PorticoProcess;
  let tlsPort: number;
  let h2cPort: number;
  const sessions: ClientHttp2Session[] = [];
  const tlsSession = (): ClientHttp2Session => {
    const session = connect(`https://127.0.0.1:${tlsPort}`, {
      ca: ca.cert,
      servername: 'api.example.test',
    });
    sessions.push(session);
    return session;
  };
  const h2cSession = (): ClientHttp2Session => {
    const session = connect(`http://127.0.0.1:${h2cPort}`);
    sessions.push(session);
    return session;
  };

  before(async () => {
    certs = createCertificateFolder();
    ca = certs.createCa('h2-ca');
    const site = ca.issue('site', { names: ['api.example.test'] });
    upstream = await startUpstream('h2-echo');
    tlsPort = await freePort();
    h2cPort = await freePort();
    const hash = createHash('sha256').update(apiKey).digest('hex');
    portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - address: 127.0.0.1:${tlsPort}
    tls: { certificates: [{ cert: ${site.certFile}, key: ${site.keyFile} }] }
    http2: { maxResets: 50, maxPings: 50, maxSettings: 50, floodWindow: 1m }
  - address: 127.0.0.1:${h2cPort}
    http2: { enabled: true, maxResets: 50, maxPings: 50, floodWindow: 1m }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: h2-app, apiKeys: ["sha256:${hash}"] }
services:
  echo: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: keys, match: { path: /keys/** }, service: echo, auth: [apiKey] }
  - name: limited
    match: { path: /limited/** }
    service: echo
    rateLimit: { limit: 2, window: 1m, by: ip }
  - name: shaped
    match: { path: /shaped/** }
    service: echo
    rateLimit: { limit: 1000, window: 1m, by: ip }
  - { name: echo, match: { path: /** }, service: echo }
`,
    );
  });

  after(async () => {
    for (const session of sessions) session.destroy();
    await portico?.stop();
    await upstream?.close();
    certs?.remove();
  });

  test('a TLS listener negotiates h2 by ALPN and proxies through the same intake', async () => {
    const session = tlsSession();
    const answer = await h2Get(session, '/hello?x=1');
    assert.equal(answer.status, 200);
    assert.equal((session.socket as unknown as { alpnProtocol: string }).alpnProtocol, 'h2');
    assert.match(String(answer.headers['x-request-id']), /.+/);
    const seen = upstream.requests.at(-1);
    assert.equal(seen?.url, '/hello?x=1');
    assert.equal(seen?.headers['x-forwarded-proto'], 'https');
    assert.equal(seen?.headers['x-forwarded-host'], `api.example.test:${tlsPort}`);
    assert.ok(seen?.rawHeaders.every((name) => !name.startsWith(':')));
  });

  test('the same TLS listener still answers HTTP/1.1 clients', async () => {
    const agent = new Agent({ connect: { ca: ca.cert, servername: 'api.example.test' } });
    try {
      const res = await request(`https://127.0.0.1:${tlsPort}/one`, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      await res.body.text();
    } finally {
      await agent.close();
    }
  });

  test('an h2c listener takes prior-knowledge HTTP/2 and HTTP/1.1 on one port', async () => {
    const answer = await h2Get(h2cSession(), '/plain');
    assert.equal(answer.status, 200);
    assert.equal(upstream.requests.at(-1)?.headers['x-forwarded-proto'], 'http');
    const res = await fetch(`http://127.0.0.1:${h2cPort}/plain-h1`);
    assert.equal(res.status, 200);
    await res.text();
  });

  test('a plain listener without http2 does not speak h2c', async () => {
    const session = connect(portico.url);
    session.on('error', () => {});
    sessions.push(session);
    await assert.rejects(h2Get(session, '/nope'));
  });

  test('stages run the same on HTTP/2: authentication and rate limits answer problem+json', async () => {
    const session = tlsSession();
    const denied = await h2Get(session, '/keys/a');
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    assert.equal(JSON.parse(denied.body).code, 'unauthorized');
    const allowed = await h2Get(session, '/keys/a', { 'x-api-key': apiKey });
    assert.equal(allowed.status, 200);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await h2Get(session, '/limited/x')).status);
    assert.deepEqual(statuses, [200, 200, 429]);
  });

  test("an answer keeps the headers a stage set next to the instance's, and a chunked answer's trailers", async () => {
    const session = h2cSession();
    const shaped = await h2Get(session, '/shaped/a');
    assert.equal(shaped.status, 200);
    assert.equal(shaped.headers['content-type'], 'application/json');
    assert.match(String(shaped.headers['ratelimit-policy']), /1000/);
    assert.equal(JSON.parse(shaped.body).url, '/shaped/a');
    upstream.handler = (_req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('abc');
      res.addTrailers({ 'x-checksum': '42' });
      res.end();
    };
    try {
      const stream = session.request({ ':path': '/trailers' });
      let trailers: IncomingHttpHeaders = {};
      stream.once('trailers', (received: IncomingHttpHeaders) => (trailers = received));
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      const [head] = (await once(stream, 'response')) as [IncomingHttpHeaders];
      await once(stream, 'end');
      assert.equal(head[':status'], 201);
      assert.equal(body, 'abc');
      // Trailers come before the end of the stream.
      assert.equal(trailers['x-checksum'], '42');
    } finally {
      upstream.handler = undefined;
    }
  });

  test('a HEAD request and a 304 answer end their streams without a body', async () => {
    const session = h2cSession();
    const head = await h2Get(session, '/head', { ':method': 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(upstream.requests.at(-1)?.method, 'HEAD');
    upstream.handler = (_req, res) => {
      res.writeHead(304, { etag: '"v1"' });
      res.end();
    };
    try {
      const notModified = await h2Get(session, '/cached', { 'if-none-match': '"v1"' });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.etag, '"v1"');
      assert.equal(notModified.body, '');
    } finally {
      upstream.handler = undefined;
    }
    // The connection still serves.
    assert.equal((await h2Get(session, '/after')).status, 200);
  });

  test('many streams in parallel on one connection', async () => {
    const session = h2cSession();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => h2Get(session, `/many/${i}`)));
    assert.ok(answers.every((answer) => answer.status === 200));
  });

  test('curl --http2 over TLS and --http2-prior-knowledge over h2c', async () => {
    const caFile = ca.certFile;
    const tls = await run('curl', [
      '-sS',
      '--http2',
      '--cacert',
      caFile,
      '--resolve',
      `api.example.test:${tlsPort}:127.0.0.1`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://api.example.test:${tlsPort}/curl`,
    ]);
    assert.equal(tls.stdout, '2 200');
    const h2c = await run('curl', [
      '-sS',
      '--http2-prior-knowledge',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `http://127.0.0.1:${h2cPort}/curl`,
    ]);
    assert.equal(h2c.stdout, '2 200');
  });

  test('nghttp gets answers over TLS and h2c', async () => {
    const tls = await run('nghttp', ['-nv', `https://127.0.0.1:${tlsPort}/nghttp`]);
    assert.match(tls.stdout, /:status: 200/);
    const h2c = await run('nghttp', ['-nv', `http://127.0.0.1:${h2cPort}/nghttp`]);
    assert.match(h2c.stdout, /:status: 200/);
    assert.match(h2c.stdout, /recv SETTINGS frame[\s\S]*SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):100/);
  });

  /** Keeps a well-behaved client busy while an attack runs; resolves with how many answers it got. */
  async function servedDuring(attack: () => Promise<void>, session: ClientHttp2Session): Promise<number> {
    let served = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const answer = await h2Get(session, '/still-here');
        assert.equal(answer.status, 200);
        served++;
      }
    })();
    await attack();
    await eventually(() => served >= 3);
    stop = true;
    await loop;
    return served;
  }

  test('rapid reset (CVE-2023-44487): the attacker gets GOAWAY, a normal client keeps being served', async () => {
    const attacker = await openRawH2(tlsPort, { ca: ca.cert });
    const served = await servedDuring(async () => {
      for (let id = 1; id < 2000 && !attacker.closed; id += 2) {
        await attacker.write(Buffer.concat([headers(id, getRequestBlock('/reset')), rstStream(id)]));
      }
      await eventually(() => attacker.closed);
    }, tlsSession());
    assert.ok(served >= 3);
    const goaway = attacker.goaway();
    assert.equal(goaway?.code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    assert.equal(goaway?.debug, 'portico: too many resets');
  });

  test('a PING flood gets GOAWAY on h2c', async () => {
    const attacker = await openRawH2(h2cPort);
    const served = await servedDuring(async () => {
      for (let i = 0; i < 1000 && !attacker.closed; i++) await attacker.write(ping());
      await eventually(() => attacker.closed);
    }, h2cSession());
    assert.ok(served >= 3);
    assert.equal(
      attacker.goaway()?.debug,
      'portico: too many pings',
      attacker.frames.map((f) => `${f.type}:${f.payload.toString('latin1')}`).join(' '),
    );
  });

  test('a SETTINGS flood gets GOAWAY', async () => {
    const attacker = await openRawH2(tlsPort, { ca: ca.cert });
    for (let i = 0; i < 1000 && !attacker.closed; i++) await attacker.write(frame(FrameType.SETTINGS, 0, 0));
    await eventually(() => attacker.closed);
    assert.equal(attacker.goaway()?.debug, 'portico: too many settings');
  });

  test('a CONTINUATION flood (CVE-2024-27316) is cut off', async () => {
    const attacker = await openRawH2(h2cPort);
    const served = await servedDuring(async () => {
      // A header block that never ends: HEADERS without END_HEADERS, then CONTINUATION frames forever.
      await attacker.write(headers(1, getRequestBlock('/cont'), Flag.END_STREAM));
      const filler = literalIndexed('x-filler', 'a'.repeat(100));
      for (let i = 0; i < 10_000 && !attacker.closed; i++)
        await attacker.write(frame(FrameType.CONTINUATION, 0, 1, filler));
      await eventually(() => attacker.closed);
    }, h2cSession());
    assert.ok(served >= 3);
    // nghttp2 refuses the ninth CONTINUATION frame of a block and ends the connection.
    assert.ok(attacker.closed);
  });

  test('an HPACK bomb is refused without taking the connection of others', async () => {
    const attacker = await openRawH2(h2cPort);
    // One 4 KB header enters the dynamic table (index 62), then 2,000 one-byte references decode to 8 MB.
    const big = literalIndexed('x-bomb', 'b'.repeat(4000));
    const bomb = Buffer.concat([
      getRequestBlock('/bomb'),
      big,
      ...Array.from({ length: 2000 }, () => indexed(62)),
    ]);
    await attacker.write(headers(1, bomb));
    await eventually(() =>
      attacker.frames.some(
        (f) =>
          (f.type === FrameType.RST_STREAM && f.streamId === 1) ||
          f.type === FrameType.GOAWAY ||
          (f.type === FrameType.HEADERS && f.streamId === 1),
      ),
    );
    // Refused by nghttp2 (header list too large): never proxied with 8 MB of headers.
    assert.equal(upstream.requests.filter((r) => r.url === '/bomb').length, 0);
    attacker.close();
    assert.equal((await h2Get(h2cSession(), '/after-bomb')).status, 200);
  });
});

describe('HTTP/2 drain on SIGTERM', () => {
  test('streams in flight on HTTP/2 connections all finish, then the connection gets GOAWAY', async () => {
    const upstream = await startUpstream('h2-drain');
    upstream.fault = { kind: 'delay', ms: 600 };
    const h2cPort = await freePort();
    const portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true } }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
shutdownTimeout: 10s
services:
  echo: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: echo, match: { path: /** }, service: echo }
`,
    );
    const sessions = [connect(`http://127.0.0.1:${h2cPort}`), connect(`http://127.0.0.1:${h2cPort}`)];
    try {
      // A connection may get more than one GOAWAY (Node's graceful close announces, then confirms the last stream).
      const toldToGo = new Set<ClientHttp2Session>();
      for (const session of sessions) session.on('goaway', () => toldToGo.add(session));
      const inFlight = Array.from({ length: 20 }, (_, i) =>
        h2Get(sessions[i % 2] as ClientHttp2Session, `/drain/${i}`),
      );
      // Every stream has reached the upstream (its head is recorded when the body ends, before the delay).
      await eventually(() => upstream.requests.length === 20);
      const stopped = portico.stop('SIGTERM');
      const answers = await Promise.all(inFlight);
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array.from({ length: 20 }, () => 200),
      );
      assert.equal(await stopped, 0);
      assert.equal(toldToGo.size, 2);
    } finally {
      for (const session of sessions) session.destroy();
      await portico.stop();
      await upstream.close();
    }
  });
});
