import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('a reload refuses an empty config file (a write in progress) and the routes keep serving', async (t) => {
  const upstream = await startUpstream('kept');
  t.after(() => upstream.close());
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  kept: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: kept, match: { path: /kept/** }, service: kept }
`,
  );
  t.after(() => portico.stop('SIGKILL'));
  // In place, as `>` does: the file is empty until the writer's next write.
  await writeFile(portico.configFile, '');
  const res = await fetch(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
  assert.equal(res.status, 422);
  const problem = (await res.json()) as { code: string; errors: { message: string }[] };
  assert.equal(problem.code, 'invalid_config');
  assert.match(problem.errors[0]?.message ?? '', /the file is empty/);
  const kept = await fetch(`${portico.url}/kept/x`);
  await kept.arrayBuffer();
  assert.equal(kept.status, 200);
});
