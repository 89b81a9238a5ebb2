import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let upstream: TestUpstream;

const config = (port: number, adminPort: number, path: string) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  a: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: a, match: { path: "${path}" }, service: a }
`;

before(async () => {
  upstream = await startUpstream('a');
  portico = await startPortico(({ port, adminPort }) => config(port, adminPort, '/a/**'));
});

after(async () => {
  await portico?.stop();
  await upstream?.close();
});

test('a config that fails to compile is rejected with 422 and the running one keeps serving', async () => {
  // `**` before the last segment passes the schema but not the router: the reload must not take the node down.
  await portico.writeConfig(config(portico.port, portico.adminPort, '/a/**/b'));
  const res = await fetch(`${portico.adminUrl}/v1/config/reload`, { method: 'POST' });
  assert.equal(res.status, 422);
  const body = (await res.json()) as { code: string; errors: { message: string }[] };
  assert.equal(body.code, 'invalid_config');
  assert.match(body.errors.map((e) => e.message).join('\n'), /\*\*/);
  assert.equal((await fetch(`${portico.url}/a/x`)).status, 200);
  assert.equal(portico.child.exitCode, null, 'the process is still running');
});
