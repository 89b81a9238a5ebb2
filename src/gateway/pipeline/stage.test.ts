import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { PorticoError } from '../../errors/portico-error.ts';
import { stageFactories } from '../stages/index.ts';
import { RequestContext, type RequestRoute } from './request-context.ts';
import { composeStages, phases, sortByPhase, type Handler, type Stage, type StageFactory } from './stage.ts';

function newContext(): RequestContext {
  return new RequestContext(
    { headers: {}, socket: { bytesRead: 0, bytesWritten: 0 } } as unknown as IncomingMessage,
    {} as ServerResponse,
    {} as RequestRoute,
    {},
    '/',
    '',
    '127.0.0.1',
    false,
    'request-1',
    0,
  );
}

/** A stage that logs its name on the way in and on the way out, around an awaited `next`. */
function tracing(name: string, log: string[]): Stage {
  return async function trace(ctx, next) {
    log.push(`${name} in`);
    await next(ctx);
    log.push(`${name} out`);
  };
}

test('request filters run in order A→B→C, then the service, and the response side C→B→A', async () => {
  const log: string[] = [];
  const handler = composeStages([tracing('A', log), tracing('B', log), tracing('C', log)], () => {
    log.push('service');
  });
  await handler(newContext());
  assert.deepEqual(log, ['A in', 'B in', 'C in', 'service', 'C out', 'B out', 'A out']);
});

test('a route with no stages calls its service directly', () => {
  const terminal: Handler = () => undefined;
  assert.equal(composeStages([], terminal), terminal);
});

test('a stage that answers without calling next ends the chain', async () => {
  const log: string[] = [];
  const answer: Stage = function answerEarly() {
    log.push('answered');
  };
  const handler = composeStages([tracing('A', log), answer, tracing('C', log)], () => {
    log.push('service');
  });
  await handler(newContext());
  assert.deepEqual(log, ['A in', 'answered', 'A out']);
});

test('a stage that throws a PorticoError short-circuits the rest of the chain', async () => {
  let reached = false;
  const refuse: Stage = function refuse() {
    throw new PorticoError('forbidden');
  };
  const handler = composeStages([refuse], () => {
    reached = true;
  });
  await assert.rejects(async () => handler(newContext()), { code: 'forbidden' });
  assert.equal(reached, false);
});

test('a second call of next() throws, naming the stage, and the service runs once', async () => {
  let served = 0;
  const twice: Stage = async function callsNextTwice(ctx, next) {
    await next(ctx);
    await next(ctx);
  };
  const handler = composeStages([tracing('A', []), twice], () => {
    served++;
  });
  await assert.rejects(
    async () => handler(newContext()),
    /stage "callsNextTwice" called next\(\) a second time/,
  );
  assert.equal(served, 1);
});

test('a stage calling next() twice in a row is refused synchronously', () => {
  const twice: Stage = function callsNextTwice(ctx, next) {
    void next(ctx);
    void next(ctx);
  };
  let served = 0;
  const handler = composeStages([twice], () => {
    served++;
  });
  assert.throws(() => handler(newContext()), /called next\(\) a second time/);
  assert.equal(served, 1);
});

test('each request has its own guard: the same chain serves many requests', async () => {
  let served = 0;
  const handler = composeStages([tracing('A', []), tracing('B', [])], () => {
    served++;
  });
  for (let i = 0; i < 3; i++) await handler(newContext());
  assert.equal(served, 3);
});

test('factories are ordered by phase, keeping registration order within a phase', () => {
  const factory = (name: string, phase: StageFactory['phase']): StageFactory => ({
    name,
    phase,
    create: () => undefined,
  });
  const sorted = sortByPhase([
    factory('validate', 'validate'),
    factory('limit', 'traffic'),
    factory('cors', 'edge'),
    factory('version', 'traffic'),
    factory('auth', 'authenticate'),
    factory('scopes', 'authorize'),
    factory('rewrite', 'transform'),
  ]);
  assert.deepEqual(
    sorted.map((f) => f.name),
    ['cors', 'auth', 'scopes', 'limit', 'version', 'validate', 'rewrite'],
  );
});

test("Portico's stages run in the documented order: IP rules, CORS, authentication, access control, rate limit, validation, then the transform-phase policies", () => {
  const ordered = sortByPhase(stageFactories).map((f) => `${f.phase}:${f.name}`);
  assert.deepEqual(ordered, [
    'edge:ip-rules',
    'edge:cors',
    'authenticate:auth',
    'authorize:scopes',
    'traffic:rate-limit',
    'traffic:version',
    'validate:validate',
    // Response filters run in reverse: the cache sits next to the service, compression wraps what it serves.
    'transform:compress',
    'transform:transform',
    'transform:mirror',
    'transform:cache',
  ]);
  assert.deepEqual(phases, ['edge', 'authenticate', 'authorize', 'traffic', 'validate', 'transform']);
});
