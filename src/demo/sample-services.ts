import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SampleService {
  readonly name: string;
  readonly version: string;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A tiny JSON service for the demo: answers every path with who it is and what it saw, and `/healthz`.
 */
export async function startSampleService(
  name: string,
  version: string,
  instance: string,
): Promise<SampleService> {
  const server: Server = createServer((req, res) => {
    const body =
      req.url === '/healthz'
        ? JSON.stringify({ status: 'ok' })
        : JSON.stringify({
            service: name,
            version,
            instance,
            method: req.method,
            path: req.url,
            forwardedFor: req.headers['x-forwarded-for'],
            requestId: req.headers['x-request-id'],
          });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    version,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
