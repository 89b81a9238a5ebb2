import type { TryFailure } from './retry-policy.ts';

const refused = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const resetBeforeAnswer = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const timedOut = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * What a failed try's error code means for retrying (Node and undici codes): one reading shared by the
 * gateway's proxy, its aggregate calls and the SDK client.
 */
export function tryFailureOf(code: string | undefined): TryFailure {
  if (code === undefined) return 'other';
  if (refused.has(code)) return 'refused';
  if (resetBeforeAnswer.has(code)) return 'connect';
  if (timedOut.has(code)) return 'timeout';
  return 'other';
}
