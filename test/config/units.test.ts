import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDurationMs, parseSizeBytes } from '../../src/config/units.ts';

test('parses durations in every unit into milliseconds', () => {
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('5s'), 5000);
  assert.equal(parseDurationMs('1m'), 60_000);
  assert.equal(parseDurationMs('1h'), 3_600_000);
  assert.equal(parseDurationMs('1d'), 86_400_000);
  assert.equal(parseDurationMs('1.5s'), 1500);
});

test('rejects durations without a known unit', () => {
  for (const bad of ['5', '5 seconds', '5sec', '-1s', '']) {
    assert.throws(() => parseDurationMs(bad), RangeError, bad);
  }
});

test('parses sizes with binary multiples (1kb = 1024 bytes)', () => {
  assert.equal(parseSizeBytes('100b'), 100);
  assert.equal(parseSizeBytes('512kb'), 512 * 1024);
  assert.equal(parseSizeBytes('10mb'), 10 * 1024 * 1024);
  assert.equal(parseSizeBytes('1gb'), 1024 ** 3);
});

test('rejects sizes that are fractional or without unit', () => {
  for (const bad of ['10', '1.5mb', '10 mb', '10MB']) {
    assert.throws(() => parseSizeBytes(bad), RangeError, bad);
  }
});
