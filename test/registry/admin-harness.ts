import { createServer, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { AdminRoute } from '../../src/admin/admin-route.ts';
import { sendError, sendProblem } from '../../src/errors/problem.ts';

/**
 * A stand-in for the admin listener: mounts AdminRoute[] on node:http at 127.0.0.1:0 and renders thrown
 * PorticoErrors as problem+json. Closed when the test ends.
 */
export async function startAdmin(t: TestContext, routes: AdminRoute[]): Promise<string> {
  const compiled = routes.map((route) => ({ route, segments: route.path.split('/') }));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const parts = url.pathname.split('/');
    for (const { route, segments } of compiled) {
      if (route.method !== req.method || segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const matches = segments.every((segment, i) => {
        const part = parts[i] ?? '';
        if (segment.startsWith('{')) {
          params[segment.slice(1, -1)] = decodeURIComponent(part);
          return part !== '';
        }
        return segment === part;
      });
      if (!matches) continue;
      Promise.resolve()
        .then(() => route.handler(req, res, { params, url }))
        .catch((err: unknown) => sendError(res, err));
      return;
    }
    sendProblem(res, 'not_found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Parsed JSON of a test answer; tests read fields freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface JsonAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Json;
}

/** One JSON request; the answer body parsed when it is JSON. */
export async function call(base: string, method: string, path: string, body?: unknown): Promise<JsonAnswer> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: text === '' ? undefined : JSON.parse(text),
  };
}

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: Json;
}

/** A raw server-sent-events reader; `comments` counts keep-alives. */
export interface Watcher {
  readonly events: SseEvent[];
  readonly status: number;
  comments: number;
  lastId: string | undefined;
  ended: boolean;
  response: IncomingMessage;
  close(): void;
}

export function openWatch(
  t: TestContext,
  url: string,
  headers: Record<string, string> = {},
): Promise<Watcher> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const watcher: Watcher = {
        events: [],
        status: res.statusCode ?? 0,
        comments: 0,
        lastId: undefined,
        ended: false,
        response: res,
        close: () => req.destroy(),
      };
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | undefined;
          let event = 'message';
          let data: string | undefined;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) watcher.comments++;
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = line.slice(6);
          }
          if (id !== undefined) watcher.lastId = id;
          if (data !== undefined) watcher.events.push({ id, event, data: JSON.parse(data) });
        }
      });
      const finish = () => {
        watcher.ended = true;
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      resolve(watcher);
    });
    req.on('error', reject);
    req.end();
    t.after(() => req.destroy());
  });
}
