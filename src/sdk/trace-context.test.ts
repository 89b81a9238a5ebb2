import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currentTraceContext, outgoingTraceparent, runWithTraceContext } from './trace-context.ts';

const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('a valid traceparent is continued with a new span id and its valid tracestate', () => {
  runWithTraceContext({ traceparent: incoming, tracestate: 'vendor=abc' }, () => {
    const context = currentTraceContext();
    assert.equal(context?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(context?.parentId, '00f067aa0ba902b7');
    assert.equal(context?.traceState, 'vendor=abc');
    const outgoing = outgoingTraceparent();
    assert.match(outgoing, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(outgoing.slice(36, 52), '00f067aa0ba902b7');
  });
});

test('an invalid traceparent starts a new trace and a malformed tracestate is dropped', () => {
  const upper = incoming.toUpperCase();
  runWithTraceContext({ traceparent: upper, tracestate: 'vendor=abc' }, () => {
    const context = currentTraceContext();
    assert.match(context?.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(context?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(context?.parentId, undefined);
  });
  runWithTraceContext({ traceparent: incoming, tracestate: 'not a member' }, () => {
    assert.equal(currentTraceContext()?.traceState, undefined);
  });
});
