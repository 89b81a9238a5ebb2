import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHeapTrim, youngGenerationBytes } from './heap-trim.ts';

/** Survivors across scavenges make V8 grow its young generation, as config compilation does at start-up. */
function growYoungGeneration(): void {
  let kept: object[] = [];
  for (let round = 0; round < 40; round++) {
    const batch: object[] = [];
    for (let i = 0; i < 50_000; i++) batch.push({ round, i, text: `item ${i}` });
    kept = kept.length > 200_000 ? batch : kept.concat(batch);
  }
  assert.ok(kept.length > 0);
}

test('an idle process gives back a grown young generation', async () => {
  growYoungGeneration();
  const grown = youngGenerationBytes();
  assert.ok(grown > 8 * 2 ** 20, `the young generation should have grown (is ${grown} bytes)`);
  const stop = startHeapTrim({
    checkEveryMs: 100,
    idleUtilization: 0.5,
    minNewSpaceBytes: 8 * 2 ** 20,
    idleChecks: 2,
  });
  try {
    const deadline = Date.now() + 5000;
    while (youngGenerationBytes() >= grown && Date.now() < deadline) await sleep(50);
    assert.ok(youngGenerationBytes() < grown / 4, `trimmed to ${youngGenerationBytes()} from ${grown} bytes`);
  } finally {
    stop();
  }
});

test('a busy process is left alone', async () => {
  growYoungGeneration();
  const grown = youngGenerationBytes();
  // A utilisation bound no loop can stay under: every period counts as busy.
  const stop = startHeapTrim({
    checkEveryMs: 50,
    idleUtilization: 0,
    minNewSpaceBytes: 8 * 2 ** 20,
    idleChecks: 1,
  });
  try {
    await sleep(400);
    assert.equal(youngGenerationBytes(), grown);
  } finally {
    stop();
  }
});

test('a process idle for fewer check periods than asked keeps its young generation', async () => {
  growYoungGeneration();
  const grown = youngGenerationBytes();
  // Every period counts as idle, but a trim waits for 1,000 of them in a row.
  const stop = startHeapTrim({
    checkEveryMs: 50,
    idleUtilization: 1.01,
    minNewSpaceBytes: 8 * 2 ** 20,
    idleChecks: 1000,
  });
  try {
    await sleep(400);
    assert.equal(youngGenerationBytes(), grown);
  } finally {
    stop();
  }
});
