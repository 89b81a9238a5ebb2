import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResponseReports } from './response-reports.ts';

const request = { method: 'GET', path: '/books/1', status: 200, requestId: 'r' };
const violations = [{ in: 'response' as const, path: '/title', message: 'is required' }];

test('counts every bad answer but logs at most once per route every 10 s, with the count since', () => {
  let now = 0;
  const lines: Record<string, unknown>[] = [];
  const reports = new ResponseReports(() => now);
  reports.setLogger({ warn: (fields: Record<string, unknown>) => lines.push(fields) } as never);
  reports.report('books', 'books', request, violations);
  now = 5_000;
  reports.report('books', 'books', request, violations);
  reports.report('other', 'books', request, violations);
  now = 10_000;
  reports.report('books', 'books', request, violations);
  assert.deepEqual(
    lines.map((l) => [l.route, l.answersSinceLastReport]),
    [
      ['books', 1],
      ['other', 1],
      ['books', 2],
    ],
  );
  assert.deepEqual(reports.entries(), [
    { route: 'books', service: 'books', answers: 3 },
    { route: 'other', service: 'books', answers: 1 },
  ]);
});
