import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config, RouteConfig } from '../../config/schema.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Stage } from '../pipeline/stage.ts';
import { NodeState } from '../runtime/node-state.ts';
import { scopesStage } from './scopes-stage.ts';

function stageFor(scopes: RouteConfig['scopes']): Stage {
  const route = { name: 'r', match: { path: '/r' }, service: 's', scopes } as RouteConfig;
  const stage = scopesStage.create(route, { config: {} as Config, state: new NodeState().prepare() });
  assert.ok(stage);
  return stage;
}

function run(stage: Stage, method: string, held: string[] | undefined): string {
  const ctx = {
    req: { method },
    scopes: held === undefined ? undefined : new Set(held),
  } as unknown as RequestContext;
  try {
    void stage(ctx, () => undefined);
    return 'passed';
  } catch (err) {
    return err instanceof PorticoError ? err.code : 'other';
  }
}

test('a method listed with no scopes passes even without identity; "*" guards the other methods', () => {
  const stage = stageFor({ GET: [], '*': ['orders:write'] });
  assert.equal(run(stage, 'GET', undefined), 'passed');
  assert.equal(run(stage, 'POST', undefined), 'unauthorized');
  assert.equal(run(stage, 'POST', ['orders:read']), 'forbidden');
  assert.equal(run(stage, 'POST', ['orders:write']), 'passed');
});

test('a list applies to every method, and each listed scope is required', () => {
  const stage = stageFor(['a', 'b']);
  assert.equal(run(stage, 'GET', ['a']), 'forbidden');
  assert.equal(run(stage, 'DELETE', ['a', 'b']), 'passed');
});
