import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import {
  appendTraceHeaders,
  isValidTraceparent,
  isValidTracestate,
  nextTraceparent,
  parseTraceparent,
  spanIdOf,
  traceIdOf,
  traceparentOf,
  TraceIdSource,
} from './trace-context.ts';

const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Fills with 1, 2, 3, … so ids are predictable. */
function countingIds(): TraceIdSource {
  let next = 1;
  return new TraceIdSource((buffer) => {
    for (let i = 0; i < buffer.length; i++) buffer[i] = next++ & 0xff;
  }, 64);
}

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

test('accepts a version 00 traceparent and exposes its fields', () => {
  assert.deepEqual(parseTraceparent(valid), {
    version: '00',
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    parentId: '00f067aa0ba902b7',
    flags: '01',
  });
});

test('refuses malformed traceparents', () => {
  const cases = [
    '',
    valid.toUpperCase(),
    valid.slice(0, 54),
    `${valid}-extra`, // version 00 has no further fields
    valid.replace('4bf92f3577b34da6a3ce929d0e0e4736', '0'.repeat(32)),
    valid.replace('00f067aa0ba902b7', '0'.repeat(16)),
    `ff${valid.slice(2)}`,
    valid.replace('-01', '-0x'),
    valid.replace(/-/g, '_'),
    `${valid}, ${valid}`, // two header lines joined
  ];
  for (const value of cases) assert.equal(isValidTraceparent(value), false, value);
});

test('accepts a later version with extra fields, ignoring them', () => {
  assert.equal(isValidTraceparent(`01${valid.slice(2)}-what-comes-next`), true);
  assert.equal(isValidTraceparent(`01${valid.slice(2)}x`), false);
});

test('continues the caller trace with a new span id and the sampled flag', () => {
  const ids = countingIds();
  const next = nextTraceparent(valid, ids);
  assert.equal(next, '00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01');
  assert.equal(nextTraceparent(valid.replace(/-01$/, '-00'), ids).endsWith('-00'), true);
  // Unknown flag bits are dropped: only `sampled` is forwarded.
  assert.equal(nextTraceparent(valid.replace(/-01$/, '-03'), ids).endsWith('-01'), true);
});

test('starts a new sampled trace when the caller sent none or an invalid one', () => {
  const ids = countingIds();
  assert.equal(nextTraceparent(undefined, ids), '00-0102030405060708090a0b0c0d0e0f10-1112131415161718-01');
  assert.equal(traceIdOf(nextTraceparent('garbage', ids)), '191a1b1c1d1e1f202122232425262728');
});

test('never hands out an all-zero id', () => {
  let calls = 0;
  const ids = new TraceIdSource((buffer) => {
    buffer.fill(calls++ === 0 ? 0 : 7);
  }, 8);
  assert.equal(ids.spanId(), '0707070707070707');
});

test('validates tracestate members', () => {
  assert.equal(isValidTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'), true);
  assert.equal(isValidTracestate('rojo=1, ,tenant@vendor=x '), true);
  assert.equal(isValidTracestate('Rojo=1'), false);
  assert.equal(isValidTracestate('rojo=1,rojo=2'), false);
  assert.equal(isValidTracestate('rojo'), false);
  assert.equal(isValidTracestate('rojo=a=b'), false);
  const many = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',');
  assert.equal(isValidTracestate(many), false);
});

test('keeps one span per request and forwards tracestate only with the caller trace', () => {
  const ids = countingIds();
  const req = request({ traceparent: valid, tracestate: 'rojo=1' });
  const first = traceparentOf(req, ids);
  assert.equal(traceparentOf(req, ids), first);
  assert.equal(traceIdOf(first), '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(spanIdOf(first), '0102030405060708');
  const out: string[] = [];
  appendTraceHeaders(req, out);
  assert.deepEqual(out, ['traceparent', first, 'tracestate', 'rojo=1']);

  const orphan = request({ traceparent: 'bogus', tracestate: 'rojo=1' });
  const headers: string[] = [];
  traceparentOf(orphan, ids);
  appendTraceHeaders(orphan, headers);
  assert.deepEqual(
    headers.filter((_, i) => i % 2 === 0),
    ['traceparent'],
  );
});
