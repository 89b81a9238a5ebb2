import type { ErrorCode } from '../errors/catalog.ts';
import { PorticoError } from '../errors/portico-error.ts';

/**
 * Which `retries.on` condition a failed try falls under. `refused` and `reset` are both "connect-failure" in the
 * config; they differ in what a retry may assume (see {@link RetryKind}).
 */
export type TryFailure =
  /** No connection could be opened (refused, connect timeout, no address): nothing was sent. */
  | 'refused'
  /** The connection broke (reset, closed) after the request may have been sent, before an answer was kept. */
  | 'reset'
  /** The try ran out of time; the upstream may have processed it. */
  | 'timeout'
  /** A status answer (the retry policy's status list decides). */
  | 'status'
  /** Anything else (a garbled answer, a failed TLS handshake, the gateway's own refusal): never retried. */
  | 'other';

/**
 * What a retry may assume about a failed try:
 * - `unsent`: nothing reached the instance (refused before any byte was sent): safe to retry whatever the method;
 * - `sent`: the instance may have seen the request: only methods that may repeat are retried;
 * - `none`: never retried.
 */
export type RetryKind = 'unsent' | 'sent' | 'none';

/** What a failed try counts for in its instance's circuit breaker: a failure, or nothing (`ignore`). */
export type BreakerOutcome = 'failure' | 'ignore';

/** The label a failed try is counted under in metrics and passive health. */
export type UpstreamErrorKind = 'connect' | 'timeout' | 'reset' | 'bad_response' | 'client_abort';

/** One reading of a failed try, shared by the gateway's proxy, its aggregate calls and the SDK client. */
export interface UpstreamFailure {
  /** The problem code the gateway answers with when this failure is the last word. */
  readonly code: ErrorCode;
  readonly failure: TryFailure;
  readonly retryKind: RetryKind;
  readonly breaker: BreakerOutcome;
  /** The metrics / passive-health label; undefined when the instance is not to blame (nothing is counted). */
  readonly kind: UpstreamErrorKind | undefined;
}

function reading(
  code: ErrorCode,
  failure: TryFailure,
  retryKind: RetryKind,
  kind: UpstreamErrorKind | undefined,
): UpstreamFailure {
  return Object.freeze({
    code,
    failure,
    retryKind,
    breaker: kind === undefined ? 'ignore' : 'failure',
    kind,
  });
}

// One frozen object per reading: classifying allocates nothing.
const refused = reading('upstream_unavailable', 'refused', 'unsent', 'connect');
const connectTimeout = reading('upstream_connect_timeout', 'refused', 'unsent', 'connect');
const reset = reading('upstream_unavailable', 'reset', 'sent', 'reset');
const headersTimeout = reading('upstream_timeout', 'timeout', 'sent', 'timeout');
const idleTimeout = reading('upstream_idle_timeout', 'timeout', 'sent', 'timeout');
const tlsFailure = reading('upstream_tls_error', 'other', 'none', 'connect');
const lengthMismatch = reading('bad_request', 'other', 'none', undefined);
const badResponse = reading('upstream_bad_response', 'other', 'none', 'bad_response');

/** OpenSSL's certificate verification results that Node passes through as error codes. */
const verifyFailures = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);

/** Whether an error code says the TLS handshake with an instance failed (certificate, name or protocol). */
export function isTlsFailure(code: string | undefined): boolean {
  if (code === undefined) return false;
  return verifyFailures.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_');
}

/**
 * Reads a failed try's error code (Node and undici codes): the problem code, the retry condition and kind, the
 * breaker outcome and the metrics label. A failed TLS handshake is not retried: the certificate the next
 * instance shows is usually the same one.
 *
 * @example
 * classifyUpstreamFailure('ECONNREFUSED'); // { code: 'upstream_unavailable', failure: 'refused', retryKind: 'unsent', … }
 * classifyUpstreamFailure('ECONNRESET');   // { code: 'upstream_unavailable', failure: 'reset', retryKind: 'sent', … }
 */
export function classifyUpstreamFailure(errorCode: string | undefined): UpstreamFailure {
  switch (errorCode) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
      return refused;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return connectTimeout;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return reset;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return headersTimeout;
    case 'UND_ERR_BODY_TIMEOUT':
      return idleTimeout;
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return lengthMismatch;
    default:
      return isTlsFailure(errorCode) ? tlsFailure : badResponse;
  }
}

/** A failure the gateway (or the caller) decided itself: its code, nothing counted against the instance. */
export function ownFailure(code: ErrorCode): UpstreamFailure {
  return reading(code, 'other', 'none', undefined);
}

/** Reads any error a try ended with: the gateway's own (a PorticoError, e.g. the deadline) or the upstream's. */
export function classifyError(err: unknown): UpstreamFailure {
  if (err instanceof PorticoError) return ownFailure(err.code);
  return classifyUpstreamFailure((err as { code?: string } | undefined)?.code);
}

/** How a timed-out try reads when the caller's own timer ended it (the SDK's per-try timeout). */
export const timedOutFailure: UpstreamFailure = headersTimeout;
