import type { IncomingMessage, ServerResponse } from 'node:http';
import { PorticoError } from '../errors/portico-error.ts';

/** Reads a JSON request body of at most `maxBytes`; malformed JSON is a 400 `bad_request`. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new PorticoError('payload_too_large', `body exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new PorticoError('bad_request', 'body is not valid JSON');
  }
}

/** Answers with a JSON document. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
