import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileLifecycles, lifecycleProblem } from './lifecycle.ts';

test('a deprecated version gets RFC 9745 Deprecation, RFC 8594 Sunset and a deprecation Link', () => {
  const lifecycle = compileLifecycles({
    '1': { deprecated: '2026-06-01', sunset: '2027-01-01', link: 'https://docs.example.test/v2' },
  }).get(1);
  assert.deepEqual(lifecycle?.headers, [
    ['deprecation', '@1780272000'],
    ['sunset', 'Fri, 01 Jan 2027 00:00:00 GMT'],
    ['link', '<https://docs.example.test/v2>; rel="deprecation"; type="text/html"'],
  ]);
  assert.equal(lifecycle?.sunsetAt, Date.UTC(2027, 0, 1));
  assert.equal(lifecycle?.refuseAfterSunset, false);
});

test('contract dates apply when config names none, and config dates win', () => {
  const lifecycles = compileLifecycles({ '1': {}, '2': { sunset: '2030-01-01' } }, () => ({
    deprecated: '2026-01-01',
    sunset: '2029-01-01',
  }));
  assert.equal(lifecycles.get(1)?.sunsetAt, Date.UTC(2029, 0, 1));
  assert.equal(lifecycles.get(2)?.sunsetAt, Date.UTC(2030, 0, 1));
  assert.equal(lifecycles.get(2)?.deprecatedAt, Date.UTC(2026, 0, 1));
});

test('a sunset earlier than the deprecation is reported', () => {
  assert.match(lifecycleProblem({ deprecated: '2027-01-01', sunset: '2026-01-01' }) ?? '', /earlier/);
  assert.equal(lifecycleProblem({ deprecated: '2026-01-01', sunset: '2027-01-01' }), undefined);
});
