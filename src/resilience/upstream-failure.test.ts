import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PorticoError } from '../errors/portico-error.ts';
import { classifyError, classifyUpstreamFailure, isTlsFailure } from './upstream-failure.ts';

function reading(code: string | undefined): string {
  const failure = classifyUpstreamFailure(code);
  return `${failure.code} ${failure.failure} ${failure.retryKind} ${failure.breaker} ${failure.kind}`;
}

test('a connection that was never opened is safe to retry whatever the method', () => {
  for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])
    assert.equal(reading(code), 'upstream_unavailable refused unsent failure connect', code);
  assert.equal(reading('UND_ERR_CONNECT_TIMEOUT'), 'upstream_connect_timeout refused unsent failure connect');
});

test('a broken connection or a timeout may have reached the instance: idempotent methods only', () => {
  for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])
    assert.equal(reading(code), 'upstream_unavailable reset sent failure reset', code);
  assert.equal(reading('UND_ERR_HEADERS_TIMEOUT'), 'upstream_timeout timeout sent failure timeout');
  assert.equal(reading('UND_ERR_BODY_TIMEOUT'), 'upstream_idle_timeout timeout sent failure timeout');
});

test('garbled answers and failed TLS handshakes are never retried', () => {
  assert.equal(reading('HPE_INVALID_CONSTANT'), 'upstream_bad_response other none failure bad_response');
  assert.equal(reading(undefined), 'upstream_bad_response other none failure bad_response');
  assert.equal(reading('DEPTH_ZERO_SELF_SIGNED_CERT'), 'upstream_tls_error other none failure connect');
  assert.equal(reading('ERR_TLS_CERT_ALTNAME_INVALID'), 'upstream_tls_error other none failure connect');
  assert.equal(isTlsFailure('ERR_SSL_WRONG_VERSION_NUMBER'), true);
  assert.equal(isTlsFailure('ECONNRESET'), false);
});

test("the gateway's own refusals count against no instance", () => {
  assert.equal(reading('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'), 'bad_request other none ignore undefined');
  const deadline = classifyError(new PorticoError('deadline_exceeded', 'late'));
  assert.deepEqual(
    [deadline.code, deadline.retryKind, deadline.breaker, deadline.kind],
    ['deadline_exceeded', 'none', 'ignore', undefined],
  );
  const refused = classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
  assert.equal(refused, classifyUpstreamFailure('ECONNREFUSED'), 'one shared reading, no allocation');
});
