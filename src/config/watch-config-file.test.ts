import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../observability/logger.ts';
import { watchConfigFile } from './watch-config-file.ts';

test('a file rewritten in place with a pause mid-write is read only once complete', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'portico.yaml');
  await writeFile(file, 'routes: []\n');
  const seen: string[] = [];
  const watcher = watchConfigFile(
    file,
    () => void readFile(file, 'utf8').then((text) => seen.push(text)),
    createLogger('silent'),
    { settleMs: 100, stableCheckMs: 600, maxWaitMs: 5000 },
  );
  t.after(() => watcher.close());
  await sleep(100);

  // A writer that pauses past the quiet time: the first half alone is a valid config with fewer routes.
  await writeFile(file, 'routes:\n  - { name: a, match: { path: /a }, service: s }\n');
  await sleep(200);
  await appendFile(file, '  - { name: b, match: { path: /b }, service: s }\n');

  const deadline = Date.now() + 5000;
  while (seen.length === 0 && Date.now() < deadline) await sleep(50);
  await sleep(300);
  assert.ok(seen.length > 0, 'the change was never reported');
  for (const text of seen) assert.match(text, /name: b/, 'a half-written file was reported');
});
