import type { ServerResponse } from 'node:http';

/**
 * Writes the head of an upstream gRPC answer to an HTTP/2 client. A "Trailers-Only" answer (the status is
 * already in the head: an error before any message) must reach the client as one HEADERS frame that ends
 * the stream, or gRPC clients report "call ended without gRPC status": its fields are only set here, and
 * the `end()` that follows sends them with END_STREAM.
 */
export function writeGrpcHead(res: ServerResponse, statusCode: number, headers: readonly string[]): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'grpc-status') continue;
    res.statusCode = statusCode;
    for (let j = 0; j < headers.length; j += 2)
      res.appendHeader(headers[j] as string, headers[j + 1] as string);
    return;
  }
  res.writeHead(statusCode, headers as string[]);
}
