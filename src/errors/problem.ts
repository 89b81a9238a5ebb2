import type { ServerResponse } from 'node:http';
import { errorCatalog, type ErrorCode } from './catalog.ts';
import { PorticoError } from './portico-error.ts';
import { isGrpcCall, sendGrpcError } from './grpc-status.ts';

const kProblemCode = Symbol('portico.problemCode');
type MarkedResponse = ServerResponse & { [kProblemCode]?: ErrorCode };

/**
 * The code of the problem the gateway itself answered on `res`, or undefined when the answer came from
 * upstream (or was not an error): the access log tells "the service said 503" from "the gateway said 503".
 */
export function problemCodeOf(res: ServerResponse): ErrorCode | undefined {
  return (res as MarkedResponse)[kProblemCode];
}

/** The RFC 9457 body of an error; never carries a stack or a cause. */
export function problemBody(code: ErrorCode, detail?: string, extra?: Record<string, unknown>): string {
  const entry = errorCatalog[code];
  return JSON.stringify({
    type: `https://portico.dev/problems/${code.replaceAll('_', '-')}`,
    title: entry.title,
    status: entry.status,
    code,
    ...(detail === undefined ? {} : { detail }),
    ...extra,
  });
}

/**
 * Answers with problem+json unless headers already left, in which case the response is aborted. A gRPC call
 * gets the gRPC status of the code instead (grpc-status.ts): gRPC clients never read a problem+json body.
 */
export function sendProblem(
  res: ServerResponse,
  code: ErrorCode,
  detail?: string,
  extra?: Record<string, unknown>,
  headers?: Record<string, string>,
): void {
  (res as MarkedResponse)[kProblemCode] = code;
  if (isGrpcCall(res)) return sendGrpcError(res, code, detail, headers);
  if (res.headersSent) {
    // A clean end would look like a whole answer: cut the connection so the client sees the failure.
    res.destroy();
    return;
  }
  const body = problemBody(code, detail, extra);
  res.writeHead(errorCatalog[code].status, {
    ...headers,
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function sendError(res: ServerResponse, err: unknown, headers?: Record<string, string>): void {
  if (err instanceof PorticoError) {
    const all = err.headers === undefined ? headers : { ...headers, ...err.headers };
    sendProblem(res, err.code, err.detail, err.extra, all);
  } else sendProblem(res, 'internal_error', undefined, undefined, headers);
}
