import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import {
  connect,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { createCertificateFolder, type CertificateFolder, type TestCa } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

const apiKey = 'ws-h2-key';

/** A client WebSocket frame (RFC 6455 §5.2): FIN, the opcode, masked as clients must, payload under 126 bytes. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** Reads unmasked server frames (payloads under 126 bytes) off a stream. */
class FrameReader {
  readonly frames: { opcode: number; payload: Buffer }[] = [];
  #buffer = Buffer.alloc(0);

  constructor(stream: ClientHttp2Stream) {
    stream.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 2) {
        const length = (this.#buffer[1] as number) & 0x7f;
        if (this.#buffer.length < 2 + length) break;
        this.frames.push({
          opcode: (this.#buffer[0] as number) & 0x0f,
          payload: this.#buffer.subarray(2, 2 + length),
        });
        this.#buffer = this.#buffer.subarray(2 + length);
      }
    });
  }
}

interface ExtendedConnect {
  status: number;
  headers: IncomingHttpHeaders;
  stream: ClientHttp2Stream;
  reader: FrameReader;
}

/** An RFC 8441 extended CONNECT for a WebSocket on an HTTP/2 session. */
async function openWebSocket(
  session: ClientHttp2Session,
  path: string,
  extra: Record<string, string> = {},
): Promise<ExtendedConnect> {
  if (session.remoteSettings.enableConnectProtocol !== true) await once(session, 'remoteSettings');
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': path,
      'sec-websocket-version': '13',
      ...extra,
    },
    { endStream: false },
  );
  const reader = new FrameReader(stream);
  const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  return { status: Number(headers[':status']), headers, stream, reader };
}

/** Sends a text message and waits for the next text frame back. */
async function echo(ws: ExtendedConnect, text: string): Promise<string> {
  const seen = ws.reader.frames.length;
  ws.stream.write(clientFrame(0x1, Buffer.from(text)));
  await eventually(() => ws.reader.frames.length > seen);
  return (ws.reader.frames[seen]?.payload ?? Buffer.alloc(0)).toString();
}

describe('WebSocket over HTTP/2 (RFC 8441 extended CONNECT)', () => {
  let certs: CertificateFolder;
  let ca: TestCa;
  let portico: PorticoProcess;
  let server: Server;
  let wss: WebSocketServer;
  let tlsPort: number;
  let h2cPort: number;
  const handshakes: IncomingMessage[] = [];
  const closed: string[] = [];
  const sessions: ClientHttp2Session[] = [];
  const open = (origin: string, options?: SecureClientSessionOptions): ClientHttp2Session => {
    const session = connect(origin, options);
    session.on('error', () => {});
    sessions.push(session);
    return session;
  };
  const tlsOptions = (): SecureClientSessionOptions => ({ ca: ca.cert, servername: 'api.example.test' });

  before(async () => {
    certs = createCertificateFolder();
    ca = certs.createCa('ws-h2-ca');
    const site = ca.issue('site', { names: ['api.example.test'] });
    server = createServer((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      handshakes.push(req);
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      socket.on('close', () => closed.push(req.url ?? ''));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    tlsPort = await freePort();
    h2cPort = await freePort();
    const hash = createHash('sha256').update(apiKey).digest('hex');
    portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true } }
  - address: 127.0.0.1:${tlsPort}
    tls: { certificates: [{ cert: ${site.certFile}, key: ${site.keyFile} }] }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: ws-app, apiKeys: ["sha256:${hash}"] }
services:
  chat: { instances: [{ url: "${upstream}" }] }
routes:
  - { name: keys, match: { path: /keys/** }, service: chat, stripPrefix: /keys, auth: [apiKey] }
  - { name: chat, match: { path: /chat/** }, service: chat, stripPrefix: /chat }
  - { name: no-ws, match: { path: /plain/** }, service: chat, websocket: false }
`,
    );
  });

  after(async () => {
    for (const session of sessions) session.destroy();
    await portico?.stop();
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    certs?.remove();
  });

  test('a TLS listener announces SETTINGS_ENABLE_CONNECT_PROTOCOL and relays messages both ways', async () => {
    const session = open(`https://127.0.0.1:${tlsPort}`, tlsOptions());
    const ws = await openWebSocket(session, '/chat/room-1?user=ann', { 'sec-websocket-protocol': 'chat' });
    assert.equal(ws.status, 200);
    assert.equal(session.remoteSettings.enableConnectProtocol, true);
    // The HTTP/1.1 handshake's connection headers and accept value stay on the instance's side.
    assert.equal(ws.headers['sec-websocket-accept'], undefined);
    assert.equal(ws.headers.upgrade, undefined);
    assert.equal(ws.headers['sec-websocket-protocol'], 'chat');
    assert.equal(await echo(ws, 'hello over h2'), 'hello over h2');
    assert.equal(await echo(ws, 'again'), 'again');

    const handshake = handshakes.at(-1);
    assert.equal(handshake?.method, 'GET');
    assert.equal(handshake?.url, '/room-1?user=ann');
    assert.equal(handshake?.headers.upgrade, 'websocket');
    assert.equal(handshake?.headers['x-forwarded-proto'], 'https');
    assert.match(String(handshake?.headers['x-request-id']), /\S+/);
    assert.ok(Object.keys(handshake?.headers ?? {}).every((name) => !name.startsWith(':')));

    // A close frame is relayed; the instance answers it and ends its connection, which ends the stream.
    ws.stream.write(clientFrame(0x8, Buffer.from([0x03, 0xe8])));
    await once(ws.stream, 'end');
    await eventually(() => closed.includes('/room-1?user=ann'));
    assert.equal(ws.reader.frames.at(-1)?.opcode, 0x8);
  });

  test('on h2c, WebSockets share one connection with each other and with plain requests', async () => {
    const session = open(`http://127.0.0.1:${h2cPort}`);
    const sockets = await Promise.all([1, 2, 3].map((i) => openWebSocket(session, `/chat/multi-${i}`)));
    assert.deepEqual(
      sockets.map((ws) => ws.status),
      [200, 200, 200],
    );
    const answers = await Promise.all(sockets.map((ws, i) => echo(ws, `message ${i}`)));
    assert.deepEqual(answers, ['message 0', 'message 1', 'message 2']);
    const plain = session.request({ ':path': '/chat/plain' });
    plain.end();
    const [head] = (await once(plain, 'response')) as [IncomingHttpHeaders];
    assert.equal(head[':status'], 200);
    plain.resume();
    // A client that resets its stream ends the instance's connection too.
    const first = sockets[0] as ExtendedConnect;
    first.stream.close();
    await eventually(() => closed.includes('/multi-1'));
    assert.equal(await echo(sockets[1] as ExtendedConnect, 'still open'), 'still open');
  });

  test('the route stages run on an extended CONNECT: authentication refuses, then admits', async () => {
    const session = open(`http://127.0.0.1:${h2cPort}`);
    const denied = await openWebSocket(session, '/keys/secret');
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    const admitted = await openWebSocket(session, '/keys/secret', { 'x-api-key': apiKey });
    assert.equal(admitted.status, 200);
    assert.equal(await echo(admitted, 'with a key'), 'with a key');
    assert.equal(handshakes.at(-1)?.headers['x-consumer-id'], 'ws-app');
    // A client that drops its connection (FIN, no close frame) ends the instance's connection too.
    session.destroy();
    await eventually(() => closed.includes('/secret'));
  });

  test('a route without WebSockets refuses an extended CONNECT; a plain CONNECT is refused', async () => {
    const session = open(`http://127.0.0.1:${h2cPort}`);
    const refused = await openWebSocket(session, '/plain/x');
    assert.equal(refused.status, 404);
    assert.equal(refused.headers['content-type'], 'application/problem+json');
    const tunnel = session.request(
      { ':method': 'CONNECT', ':authority': 'example.com:443' },
      { endStream: false },
    );
    const [head] = (await once(tunnel, 'response')) as [IncomingHttpHeaders];
    // Portico is no forward proxy: the authority-form target is not a path it routes.
    assert.equal(head[':status'], 400);
    tunnel.close();
  });

  test('HTTP/1.1 WebSockets still work on the TLS listener and on the h2c port', async () => {
    for (const url of [`wss://127.0.0.1:${tlsPort}/chat/h1-tls`, `ws://127.0.0.1:${h2cPort}/chat/h1-plain`]) {
      // A variable, not a literal: ws's option type lacks the TLS `servername` it passes on to tls.connect.
      const options = { ca: ca.cert, servername: 'api.example.test' };
      const client = new WebSocket(url, options);
      await once(client, 'open');
      client.send('over http/1.1');
      const [data] = (await once(client, 'message')) as [Buffer];
      assert.equal(data.toString(), 'over http/1.1');
      client.close();
      await once(client, 'close');
    }
  });
});
