import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: readonly string[];
  readonly bodyBytes: number;
}

export type Fault =
  | { readonly kind: 'none' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'cut-body' }
  /** Writes bytes that are not HTTP and closes the connection. */
  | { readonly kind: 'garbage' };

export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly requests: RecordedRequest[];
  /** What the next requests get; `none` answers 200 with a JSON echo. */
  fault: Fault;
  /** Custom handler replacing the echo (the fault still applies first). */
  handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  close(): Promise<void>;
}

/**
 * A real HTTP upstream for integration tests: echoes what it received as JSON, records every request, and
 * injects faults (status, delay, hang, connection reset, body cut after the headers) on demand.
 */
export async function startUpstream(
  name = 'upstream',
  options: { port?: number } = {},
): Promise<TestUpstream> {
  const sockets = new Set<Socket>();
  const upstream: TestUpstream = {
    url: '',
    port: 0,
    name,
    requests: [],
    fault: { kind: 'none' },
    handler: undefined,
    close: async () => {},
  };
  const ended = new WeakSet<IncomingMessage>();
  const server: Server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () => {
      ended.add(req);
      upstream.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes,
      });
    });
    const fault = upstream.fault;
    switch (fault.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'garbage':
        req.socket.end('this is not HTTP at all\r\n\r\n');
        return;
      case 'status':
        res.writeHead(fault.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ upstream: name, status: fault.status }));
        return;
      case 'cut-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"partial":');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      case 'delay':
        setTimeout(() => answer(req, res), fault.ms);
        return;
      case 'none':
        answer(req, res);
    }
  });
  function answer(req: IncomingMessage, res: ServerResponse): void {
    if (upstream.handler !== undefined) return upstream.handler(req, res);
    const reply = () => {
      const body = JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    // After a delay the body may already be read: answer at once instead of waiting for an 'end' that passed.
    if (ended.has(req) || req.readableEnded) reply();
    else req.on('end', reply);
    req.resume();
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(upstream, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}
