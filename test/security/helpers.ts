import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWTPayload } from 'jose';

/** `sha256:<hex>` of an API key, as written in config. */
export function keyHash(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

export const jwtSecret = 'test-secret-with-enough-entropy-0123456789';
export const issuer = 'https://id.example.test';
export const audience = 'shop-api';

/** An HS256 token with sensible claims; `claims` overrides them, `header` the protected header. */
export async function hsToken(
  claims: JWTPayload = {},
  options: { secret?: string; alg?: string; expiresIn?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({
    sub: 'user-1',
    scope: 'users:read',
    iss: issuer,
    aud: audience,
    iat: now,
    exp: now + (options.expiresIn ?? 300),
    ...claims,
  })
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .sign(new TextEncoder().encode(options.secret ?? jwtSecret));
}

/** Base64url of a JSON value (hand-made tokens for attacks). */
export function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A JWKS endpoint whose document and availability a test controls; counts fetches. */
export interface JwksServer {
  readonly url: string;
  keys: unknown[];
  down: boolean;
  fetches: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: unknown[]): Promise<JwksServer> {
  const state = { keys, down: false, fetches: 0 };
  const server: Server = createServer((_req, res) => {
    state.fetches++;
    if (state.down) {
      res.writeHead(503).end();
      return;
    }
    const body = JSON.stringify({ keys: state.keys });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** What a raw exchange produced: the status of the first answer (0 when none) and the whole text. */
export interface RawAnswer {
  readonly status: number;
  readonly text: string;
  /** Whether the server closed the connection. */
  readonly closed: boolean;
}

/**
 * Writes `payload` on a fresh TCP connection exactly as given (an HTTP client would normalise it) and reads
 * one whole answer (or, with `untilClose`, until the server closes), giving up after `waitMs` without data.
 */
export function sendRaw(
  port: number,
  payload: string | Buffer,
  waitMs = 400,
  untilClose = false,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      // Interim 1xx answers (100 Continue) are skipped: the status is the final answer's.
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(
        text.replace(/^(HTTP\/1\.[01] 1\d\d[^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, ''),
      );
      resolve({ status: m === null ? 0 : Number(m[1]), text, closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), waitMs);
    };
    socket.on('connect', () => {
      socket.write(payload);
      arm();
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!untilClose && complete(text)) finish(false);
      else arm();
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** Whether `text` holds one whole response with a Content-Length body. */
function complete(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return m !== null && text.length - end - 4 >= Number(m[1]);
}
