import { connect, type Socket } from 'node:net';

/** A raw TCP client for tests that must send exactly the bytes they mean and see every byte answered. */
export interface RawClient {
  readonly socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Writes and waits until the bytes left (rejects with the socket error, e.g. EPIPE or ECONNRESET). */
  write(data: string | Buffer): Promise<void>;
  /** Resolves once the server closed its side (FIN, reset or close), with the socket error if any. */
  readonly ended: Promise<{ error: string | undefined; at: number }>;
  /** Resolves once the socket closed both ways, with the socket error if any. */
  readonly closed: Promise<{ error: string | undefined; at: number }>;
  /** Resolves once `text` has been received. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

export async function openRawClient(port: number, host = '127.0.0.1'): Promise<RawClient> {
  // Half-open: a client may go on sending after the server closed its side (lingering close).
  const socket = connect({ port, host, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let data = '';
  let error: string | undefined;
  const waiters = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
    for (const wake of waiters) wake();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
  const closed = new Promise<{ error: string | undefined; at: number }>((resolve) => {
    socket.once('close', () => resolve({ error, at: performance.now() }));
  });
  const ended = new Promise<{ error: string | undefined; at: number }>((resolve) => {
    const done = () => resolve({ error, at: performance.now() });
    socket.once('end', done);
    socket.once('close', done);
  });
  return {
    socket,
    received: () => data,
    write: (chunk) =>
      new Promise<void>((resolve, reject) => {
        socket.write(chunk, (err) => (err ? reject(err) : resolve()));
      }),
    ended,
    closed,
    waitFor: (text, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        if (data.includes(text)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`did not receive ${JSON.stringify(text)}; got ${JSON.stringify(data)}`));
        }, timeoutMs);
        function check(): void {
          if (!data.includes(text)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
        waiters.add(check);
      }),
  };
}

/** Number of HTTP/1.1 status lines in a received stream of answers. */
export function countAnswers(received: string): number {
  return received.split('HTTP/1.1 ').length - 1;
}
