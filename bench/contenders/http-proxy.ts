import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

// http-proxy is installed by bench/package.json, not with Portico, so the root typecheck never sees its
// types: the few calls used here are typed by hand.
interface ProxyServer {
  on(
    event: 'error',
    listener: (err: Error, req: IncomingMessage, res: ServerResponse | Socket) => void,
  ): void;
  web(req: IncomingMessage, res: ServerResponse): void;
}
const require = createRequire(import.meta.url);
const httpProxy = require('http-proxy') as { createProxyServer(options: object): ProxyServer };

// node-http-proxy with a keep-alive agent; without one it opens a connection per request.
const port = Number(process.argv[2]);
const upstream = process.argv[3] ?? '';

const agent = new Agent({ keepAlive: true, maxSockets: 128, keepAliveMsecs: 60_000 });
const proxy = httpProxy.createProxyServer({ target: upstream, agent });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway');
  } else {
    res.destroy();
  }
});

const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  agent.destroy();
  process.exit(0);
});
