import type { OutgoingHttpHeader, ServerResponse } from 'node:http';
import { Http2ServerResponse, type ServerHttp2Stream } from 'node:http2';

const compatWriteHead = Http2ServerResponse.prototype.writeHead;
const withTrailers = Object.freeze({ waitForTrailers: true });
const withoutTrailers = Object.freeze({});

/**
 * Writes the head of a proxied answer to an HTTP/2 client on its stream (`respond` with the flat list), instead of
 * the compatibility response's `writeHead`, which removes then re-adds every name one by one (trimming, lower-casing
 * and checking each) into an object that `respond` copies and checks again.
 *
 * `trailersMayFollow` false (an HTTP/1.1 instance's answer with a Content-Length cannot have trailers) also spares
 * the compatibility layer's trailer wait: the last DATA frame ends the stream, where the wait cost a `wantTrailers`
 * round and an empty DATA frame per answer. Trailers that may follow still reach the client through `addTrailers`.
 *
 * Headers a stage set earlier (`setHeader`: HSTS, CORS…) are kept unless the list names them, as `writeHead` does;
 * a response whose `writeHead` a stage stands in for (header transform, compression, cache, validation) or that
 * drops `Date` goes through that `writeHead` unchanged.
 */
export function writeHttp2Head(
  res: ServerResponse,
  statusCode: number,
  headers: string[],
  trailersMayFollow: boolean,
): void {
  const compat = res as unknown as Http2ServerResponse;
  if (compat.writeHead !== compatWriteHead || !compat.sendDate) {
    res.writeHead(statusCode, headers);
    return;
  }
  const stream = compat.stream as ServerHttp2Stream;
  // What the compatibility writeHead does for a closed stream: nothing.
  if (stream.destroyed || stream.closed) return;
  const set = compat.getHeaderNames();
  for (let i = 0; i < set.length; i++)
    keepStageHeader(headers, set[i] as string, compat.getHeader(set[i] as string));
  compat.statusCode = statusCode;
  headers.push(':status', String(statusCode));
  stream.respond(headers, trailersMayFollow ? withTrailers : withoutTrailers);
}

/** Appends a header a stage set, unless the answer's list names it (the upstream's value wins, as in writeHead). */
function keepStageHeader(headers: string[], name: string, value: OutgoingHttpHeader | undefined): void {
  if (value === undefined) return;
  for (let i = 0; i < headers.length; i += 2)
    if ((headers[i] as string).length === name.length && (headers[i] as string).toLowerCase() === name)
      return;
  if (Array.isArray(value)) for (const item of value) headers.push(name, item);
  else headers.push(name, String(value));
}
