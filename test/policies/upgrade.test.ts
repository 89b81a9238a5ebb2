import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** Resolves with the first message echoed back, or rejects after `ms`. */
async function echo(url: string, text: string, ms = 5000): Promise<string> {
  const client = new WebSocket(url);
  const timer = setTimeout(() => client.terminate(), ms);
  try {
    await once(client, 'open');
    client.send(text);
    const [data] = (await once(client, 'message')) as [Buffer];
    return data.toString();
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

describe('WebSocket upgrades on routes with cache, compression and mirroring', () => {
  let server: Server;
  let wss: WebSocketServer;
  let shadow: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    server = createServer((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    shadow = await startUpstream('shadow');
    const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  chat: { instances: [{ url: "${upstream}" }] }
  shadow: { instances: [{ url: "${shadow.url}" }] }
routes:
  - name: chat
    match: { path: /chat/** }
    service: chat
    cache: {}
    compress: {}
    mirror: { service: shadow }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await shadow?.close();
  });

  test('concurrent upgrades of one path are relayed, neither cached, coalesced, compressed nor copied', async () => {
    const url = `${portico.url.replace('http', 'ws')}/chat/room`;
    const answers = await Promise.all([echo(url, 'one'), echo(url, 'two')]);
    assert.deepEqual(answers, ['one', 'two']);
    assert.equal(shadow.requests.length, 0);
  });
});
