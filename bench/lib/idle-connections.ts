import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** Sockets held open after one request each, to be closed with `close()`. */
export interface IdleConnections {
  /** Connections still open now (a contender may close idle ones on its own). */
  open(): number;
  failed: number;
  close(): void;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

/** Sends one GET on a fresh socket and resolves once the whole response has arrived, leaving it open. */
function oneRequest(host: string, port: number, path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(HEADER_END);
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const complete = length
        ? buffered.length >= end + 4 + Number(length[1])
        : buffered.indexOf(CHUNKED_END, end) >= 0;
      if (!complete) return;
      clearTimeout(timer);
      socket.removeListener('error', fail);
      socket.removeAllListeners('data');
      // Errors after the response (the contender closing idle sockets) only shrink the count.
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  });
}

/**
 * Opens `count` keep-alive connections, `concurrency` at a time, each carrying one complete request and
 * response, and keeps them open. The batch size bounds both the connect storm and the upstream connections a
 * proxy opens to serve it.
 */
export async function openIdleConnections(
  host: string,
  port: number,
  path: string,
  count: number,
  concurrency = 200,
  timeoutMs = 10_000,
): Promise<IdleConnections> {
  const sockets: Socket[] = [];
  let failed = 0;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) {
      next++;
      try {
        sockets.push(await oneRequest(host, port, path, timeoutMs));
      } catch {
        failed++;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
  return {
    open: () => sockets.filter((s) => !s.destroyed).length,
    failed,
    close() {
      for (const s of sockets) s.destroy();
    },
  };
}
