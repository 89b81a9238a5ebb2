import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

/** Opens a client socket and answers the status of a refused handshake, or throws when it was accepted. */
async function refusedStatus(url: string): Promise<number> {
  const client = new WebSocket(url);
  client.on('error', () => {});
  const [, res] = (await once(client, 'unexpected-response')) as [unknown, IncomingMessage];
  client.terminate();
  return res.statusCode ?? 0;
}

describe('WebSocket proxying', () => {
  let portico: PorticoProcess;
  let server: Server;
  let wss: WebSocketServer;
  const handshakes: IncomingMessage[] = [];
  const closedPaths = new Set<string>();

  before(async () => {
    server = createServer((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      handshakes.push(req);
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      socket.on('close', () => closedPaths.add(req.url ?? ''));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  chat: { instances: [{ url: "${upstream}" }] }
  mounted: { instances: [{ url: "${upstream}/v1/ws/" }] }
routes:
  - { name: mounted, match: { path: /mounted/** }, service: mounted, stripPrefix: /mounted }
  - { name: chat, match: { path: /chat/** }, service: chat, stripPrefix: /chat }
  - { name: no-ws, match: { path: /plain/** }, service: chat, websocket: false }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('echoes text and binary messages through the gateway', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${portico.port}/chat/room-1?user=ann`);
    await once(client, 'open');
    try {
      client.send('hello');
      const [text] = (await once(client, 'message')) as [Buffer, boolean];
      assert.equal(text.toString(), 'hello');
      const binary = Buffer.from([0, 1, 2, 255]);
      client.send(binary);
      const [echoed, isBinary] = (await once(client, 'message')) as [Buffer, boolean];
      assert.equal(isBinary, true);
      assert.deepEqual(Buffer.from(echoed), binary);

      const handshake = handshakes.at(-1);
      assert.equal(handshake?.url, '/room-1?user=ann');
      assert.equal(handshake?.headers['x-forwarded-for'], '127.0.0.1');
      assert.match(String(handshake?.headers['x-request-id']), /\S+/);
    } finally {
      client.close();
    }
  });

  test('an instance URL with a base path prefixes the upgrade path, as for plain requests', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${portico.port}/mounted/room-2`);
    await once(client, 'open');
    try {
      assert.equal(handshakes.at(-1)?.url, '/v1/ws/room-2');
    } finally {
      client.close();
    }
  });

  test('closing the client closes the upstream connection', async () => {
    const client = new WebSocket(`ws://127.0.0.1:${portico.port}/chat/bye`);
    await once(client, 'open');
    assert.equal(closedPaths.has('/bye'), false);
    client.terminate();
    await eventually(() => assert.ok(closedPaths.has('/bye')), 5000);
  });

  test('an upgrade on an unmatched path is refused with 404', async () => {
    assert.equal(await refusedStatus(`ws://127.0.0.1:${portico.port}/nowhere`), 404);
  });

  test('an upgrade on a route with websocket: false is refused with 404', async () => {
    assert.equal(await refusedStatus(`ws://127.0.0.1:${portico.port}/plain/x`), 404);
  });
});

describe('WebSocket upgrades run the route stage chain (one intake)', () => {
  const apiKey = 'ws-test-key-1';
  const keyHash = createHash('sha256').update(apiKey).digest('hex');
  let portico: PorticoProcess;
  const servers: { server: Server; wss: WebSocketServer; url: string }[] = [];
  const seen: IncomingMessage[] = [];

  /** A WebSocket upstream that greets every connection with its name. */
  async function greeter(name: string) {
    const server = createServer((_req, res) => res.end('plain'));
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      seen.push(req);
      socket.send(name);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const entry = { server, wss, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    servers.push(entry);
    return entry;
  }

  /** Opens a socket and resolves with the first message, or with the refusal status. */
  async function open(path: string, headers: Record<string, string> = {}) {
    const client = new WebSocket(`ws://127.0.0.1:${portico.port}${path}`, { headers });
    client.on('error', () => {});
    const outcome = await Promise.race([
      once(client, 'message').then(([data]) => ({ greeting: String(data), status: 101 })),
      once(client, 'unexpected-response').then(([, res]) => ({
        greeting: undefined,
        status: (res as IncomingMessage).statusCode ?? 0,
      })),
    ]);
    client.terminate();
    return outcome;
  }

  before(async () => {
    const [v1, v2] = [await greeter('v1'), await greeter('v2')];
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: member, apiKeys: ["sha256:${keyHash}"], scopes: [chat:join] }
services:
  chat:
    instances: [{ url: "${v1!.url}", version: 1.0.0 }, { url: "${v2!.url}", version: 2.0.0 }]
routes:
  - name: guarded
    match: { path: /guarded/** }
    service: chat
    version: { from: [header], default: "^1" }
    auth: [apiKey]
    scopes: [chat:join]
  - name: staff
    match: { path: /staff/** }
    service: chat
    auth: [apiKey]
    scopes: [chat:moderate]
  - name: limited
    match: { path: /limited/** }
    service: chat
    version: { from: [header], default: "^1" }
    rateLimit: { limit: 2, window: 1m, by: ip }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    for (const { server, wss } of servers) {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('authentication runs on upgrades: 401 without a key, through with one, and identity goes upstream', async () => {
    assert.equal((await open('/guarded/room')).status, 401);
    const joined = await open('/guarded/room', { 'x-api-key': apiKey });
    assert.deepEqual(joined, { greeting: 'v1', status: 101 });
    assert.equal(seen.at(-1)?.headers['x-consumer-id'], 'member');
  });

  test('scopes run on upgrades: a consumer without the scope gets 403', async () => {
    assert.equal((await open('/staff/room', { 'x-api-key': apiKey })).status, 403);
  });

  test('the requested version picks the instance of an upgrade', async () => {
    const v2 = await open('/guarded/room', { 'x-api-key': apiKey, 'accept-version': '^2' });
    assert.deepEqual(v2, { greeting: 'v2', status: 101 });
  });

  test('rate limits count upgrades: the third within the window gets 429', async () => {
    assert.equal((await open('/limited/a')).status, 101);
    assert.equal((await open('/limited/b')).status, 101);
    assert.equal((await open('/limited/c')).status, 429);
  });
});
