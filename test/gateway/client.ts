import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';

/** A whole answer read by `send`. */
export interface SimpleResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders | readonly string[];
  /** Written as one chunk; with `chunked` the body goes out with Transfer-Encoding: chunked. */
  readonly body?: string | Buffer;
  readonly chunked?: boolean;
  /** Request target sent exactly as written (fetch and `new URL` would resolve dot segments). */
  readonly rawPath?: string;
}

/**
 * One request over a fresh connection with node:http, which (unlike fetch/undici) lets a test send
 * hop-by-hop and Connection headers exactly as written.
 */
export function send(url: string, options: SendOptions = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const parsed = new URL(url);
    let headers = options.headers;
    // node:http adds no Host to a raw header list.
    if (Array.isArray(headers) && !headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')) {
      headers = ['Host', parsed.host, ...headers];
    }
    const req = request({
      hostname: parsed.hostname,
      port: parsed.port,
      path: options.rawPath ?? parsed.pathname + parsed.search,
      method: options.method ?? 'GET',
      agent: false,
      headers: headers as OutgoingHttpHeaders,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: <T>() => JSON.parse(text) as T,
        });
      });
    });
    if (options.body !== undefined) {
      if (options.chunked === true) req.setHeader('transfer-encoding', 'chunked');
      else if (!req.hasHeader('content-length') && !req.hasHeader('transfer-encoding'))
        req.setHeader('content-length', Buffer.byteLength(options.body));
      req.end(options.body);
    } else {
      req.end();
    }
  });
}

/** Asserts an answer is the gateway's own RFC 9457 error with this status and code, and leaks no stack. */
export function assertProblem(res: SimpleResponse, status: number, code: string): void {
  assert.equal(res.status, status, `status of ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json<{ code?: unknown; status?: unknown; title?: unknown; stack?: unknown }>();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.equal(body.stack, undefined);
  assert.doesNotMatch(res.text, /\n\s+at |node:internal|\.ts:\d+/);
}

/** Resident set size of a process in bytes, from /proc (Linux only). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
