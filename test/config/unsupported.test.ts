import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { unsupportedFeatures } from '../../src/config/unsupported.ts';
import { issuesOf } from './helpers.ts';

/** A document that uses exactly one feature of each row, and where that use sits. */
const uses: Record<string, { text: string; path: string; line: number }> = {
  'routes[].version': { text: route('version: { from: [path] }'), path: 'routes[0].version', line: 4 },
  'routes[].split': { text: route('split: { "1": 90, "2": 10 }'), path: 'routes[0].split', line: 4 },
  'routes[].fallback': { text: route('fallback: { status: 200 }'), path: 'routes[0].fallback', line: 4 },
  'services.*.versions': { text: service('versions: { "1": {} }'), path: 'services.s.versions', line: 3 },
  'services.*.retries': {
    text: service('retries: { attempts: 1, on: [502] }'),
    path: 'services.s.retries',
    line: 3,
  },
  'services.*.circuitBreaker': {
    text: service('circuitBreaker: { failureRate: 0.5, minRequests: 5, window: 10s, openFor: 5s }'),
    path: 'services.s.circuitBreaker',
    line: 3,
  },
  'services.*.bulkhead': {
    text: service('bulkhead: { maxConcurrent: 10 }'),
    path: 'services.s.bulkhead',
    line: 3,
  },
  aggregates: {
    text: 'services: { s: {} }\naggregates:\n  - name: d\n    match: { path: /d }\n    calls: { a: { service: s, path: /a } }\n',
    path: 'aggregates',
    line: 2,
  },
};

/** A route using `extra`, on line 4 of the document. */
function route(extra: string): string {
  return `services: { s: {} }\nroutes:\n  # the route\n  - { name: q, match: { path: /q }, service: s, ${extra} }\n`;
}

function service(extra: string): string {
  return `services:\n  s:\n    ${extra}\n`;
}

for (const row of unsupportedFeatures) {
  test(`using ${row.path}${row.value === undefined ? '' : ` = ${row.value}`} fails as not supported yet (issue #${row.issue})`, () => {
    const use = uses[row.path];
    assert.ok(use, `add a use of ${row.path} to this test`);
    const issues = issuesOf(use.text);
    assert.deepEqual(
      issues.map((i) => ({ path: i.path, line: i.line, message: i.message })),
      [
        {
          path: use.path,
          line: use.line,
          message: `${row.value === undefined ? `"${row.path.split(/[.\]]/).at(-1)}"` : `kind "${row.value}"`} is not supported yet (planned: ${row.feature}, issue #${row.issue})`,
        },
      ],
    );
  });
}

test('the embedded store is supported', () => {
  assert.equal(parseConfig('store: { kind: embedded }\n', 'p.yaml', {}).store.kind, 'embedded');
});

test('the redis store is supported', () => {
  const config = parseConfig('store: { kind: redis, url: "redis://127.0.0.1:6379" }\n', 'p.yaml', {});
  assert.equal(config.store.kind, 'redis');
});
