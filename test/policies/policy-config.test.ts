import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issuesOf, minimal } from '../config/helpers.ts';

test('an IP rule that is not an address or CIDR range is refused at its line', () => {
  const issues = issuesOf(
    `${minimal}    ipRules: { allow: [10.0.0.0/8, 10.0.0.0/33, "2001:db8::/129", nope] }\n`,
  );
  assert.deepEqual(
    issues.map((issue) => [issue.path, issue.line]),
    [
      ['routes[0].ipRules.allow[1]', 9],
      ['routes[0].ipRules.allow[2]', 9],
      ['routes[0].ipRules.allow[3]', 9],
    ],
  );
  assert.match(issues[0]?.message ?? '', /prefix length from 0 to 32/);
  assert.match(issues[2]?.message ?? '', /IP address or CIDR range/);
});
