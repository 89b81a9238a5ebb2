import type { ServerResponse } from 'node:http';
import { grpcFramingOf } from '../http/grpc-framing.ts';
import { bytesField, varintField } from '../http/protobuf-wire.ts';
import { errorCatalog, type ErrorCode } from './catalog.ts';

/** gRPC status codes (grpc/doc/statuscodes.md) the gateway answers with. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * The gRPC status of every catalog code, for errors the gateway answers on a gRPC call. A route that does not
 * exist is UNIMPLEMENTED, as a gRPC server says of an unknown method; failures to reach an instance are
 * UNAVAILABLE, which gRPC clients may retry.
 */
export const grpcStatusOfCode = {
  route_not_found: GrpcStatus.UNIMPLEMENTED,
  method_not_allowed: GrpcStatus.UNIMPLEMENTED,
  bad_request: GrpcStatus.INVALID_ARGUMENT,
  payload_too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  headers_too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  upstream_unavailable: GrpcStatus.UNAVAILABLE,
  upstream_tls_error: GrpcStatus.UNAVAILABLE,
  upstream_bad_response: GrpcStatus.UNAVAILABLE,
  upstream_timeout: GrpcStatus.DEADLINE_EXCEEDED,
  upstream_connect_timeout: GrpcStatus.UNAVAILABLE,
  upstream_idle_timeout: GrpcStatus.DEADLINE_EXCEEDED,
  deadline_exceeded: GrpcStatus.DEADLINE_EXCEEDED,
  circuit_open: GrpcStatus.UNAVAILABLE,
  aggregate_failed: GrpcStatus.UNAVAILABLE,
  upstream_status: GrpcStatus.UNAVAILABLE,
  dependency_failed: GrpcStatus.UNAVAILABLE,
  missing_field: GrpcStatus.INTERNAL,
  call_failed: GrpcStatus.INTERNAL,
  aborted: GrpcStatus.CANCELLED,
  no_healthy_instance: GrpcStatus.UNAVAILABLE,
  service_not_found: GrpcStatus.UNAVAILABLE,
  overloaded: GrpcStatus.RESOURCE_EXHAUSTED,
  shutting_down: GrpcStatus.UNAVAILABLE,
  unauthorized: GrpcStatus.UNAUTHENTICATED,
  forbidden: GrpcStatus.PERMISSION_DENIED,
  forbidden_address: GrpcStatus.PERMISSION_DENIED,
  rate_limited: GrpcStatus.RESOURCE_EXHAUSTED,
  validation_failed: GrpcStatus.INVALID_ARGUMENT,
  version_not_found: GrpcStatus.NOT_FOUND,
  version_sunset: GrpcStatus.NOT_FOUND,
  breaking_change: GrpcStatus.FAILED_PRECONDITION,
  invalid_config: GrpcStatus.INVALID_ARGUMENT,
  invalid_registration: GrpcStatus.INVALID_ARGUMENT,
  instance_not_found: GrpcStatus.NOT_FOUND,
  not_found: GrpcStatus.NOT_FOUND,
  store_unavailable: GrpcStatus.UNAVAILABLE,
  acme_revoke_failed: GrpcStatus.UNAVAILABLE,
  plugin_failed: GrpcStatus.INTERNAL,
  config_revision_not_found: GrpcStatus.NOT_FOUND,
  internal_error: GrpcStatus.INTERNAL,
} as const satisfies Record<ErrorCode, number>;

/** Whether the request answered on `res` is a gRPC or gRPC-Web call (its errors are gRPC statuses). */
export function isGrpcCall(res: ServerResponse): boolean {
  return grpcFramingOf(res.req?.headers['content-type']) !== undefined;
}

/**
 * Answers a gateway error on a gRPC call the gRPC way: HTTP 200 "Trailers-Only" (RFC-less, see
 * grpc/doc/PROTOCOL-HTTP2.md) with `grpc-status` and the percent-encoded `grpc-message` in the head (and, when
 * the error says when to come back with `retry-after`, a `grpc-status-details-bin` carrying RetryInfo); when the
 * answer already began (a stream cut by the deadline), the status goes in the trailers instead. The catalog
 * code travels in `portico-error`, so a caller can tell the gateway's UNAVAILABLE from its service's.
 */
export function sendGrpcError(
  res: ServerResponse,
  code: ErrorCode,
  detail: string | undefined,
  headers: Record<string, string> | undefined,
): void {
  const status = String(grpcStatusOfCode[code]);
  const text = detail ?? errorCatalog[code].title;
  const message = encodeGrpcMessage(text);
  if (res.headersSent) {
    if (res.req.httpVersionMajor !== 2 || res.writableEnded) {
      res.destroy();
      return;
    }
    res.addTrailers({ 'grpc-status': status, 'grpc-message': message, 'portico-error': code });
    res.end();
    return;
  }
  // Fields set, not written: the `end()` sends them in one HEADERS frame that ends the stream (Trailers-Only).
  res.statusCode = 200;
  if (headers !== undefined) for (const name in headers) res.setHeader(name, headers[name] as string);
  res.setHeader('content-type', res.req.headers['content-type'] ?? 'application/grpc');
  res.setHeader('grpc-status', status);
  res.setHeader('grpc-message', message);
  res.setHeader('portico-error', code);
  const retryAfter = headers?.['retry-after'];
  if (retryAfter !== undefined && /^[0-9]{1,9}$/.test(retryAfter)) {
    const details = grpcStatusDetails(Number(status), text, Number(retryAfter) * 1000);
    res.setHeader('grpc-status-details-bin', details.toString('base64'));
  }
  res.end();
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * A `google.rpc.Status` (code, message, one `google.protobuf.Any` detail) whose detail is a
 * `google.rpc.RetryInfo` with `retry_delay`, the richer error model gRPC clients read from
 * `grpc-status-details-bin` (grpc/doc/PROTOCOL-HTTP2.md; google/rpc/error_details.proto). Encoded by hand in
 * a few bytes (see protobuf-wire.ts): no dependency of the gateway carries these messages.
 *
 * @example grpcStatusDetails(8, 'rate limited', 2000) // Status { code: 8, details: [RetryInfo { 2s }] }
 */
export function grpcStatusDetails(code: number, message: string, retryDelayMs: number): Buffer {
  const seconds = Math.floor(retryDelayMs / 1000);
  const nanos = Math.round((retryDelayMs - seconds * 1000) * 1e6);
  const duration = Buffer.concat([varintField(1, seconds), varintField(2, nanos)]);
  const retryInfo = bytesField(1, duration);
  const any = Buffer.concat([bytesField(1, RETRY_INFO_TYPE), bytesField(2, retryInfo)]);
  return Buffer.concat([varintField(1, code), bytesField(2, message), bytesField(3, any)]);
}

/** Percent-encodes a grpc-message (bytes outside printable ASCII, and `%`), as the gRPC HTTP/2 mapping asks. */
export function encodeGrpcMessage(text: string): string {
  if (!/[^\x20-\x24\x26-\x7e]/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
