import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../helpers/free-port.ts';
import { deleteRedisKeys, sharedRedisUrl } from '../helpers/redis-server.ts';

const main = resolve(import.meta.dirname, '..', '..', 'src/cli/main.ts');

test('a start-up that fails half-way closes what it opened and exits 1 instead of hanging', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-start-failure-'));
  const prefix = `portico-test:${randomUUID()}:`;
  // The admin port is taken: the store, the registry and the fleet are open by the time its listen fails.
  const squatter = createServer();
  squatter.listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(async () => {
    squatter.close();
    await deleteRedisKeys(sharedRedisUrl, prefix);
    await rm(dir, { recursive: true, force: true });
  });
  const adminPort = (squatter.address() as { port: number }).port;
  await writeFile(
    join(dir, 'portico.yaml'),
    `listen: 127.0.0.1:${await freePort()}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
store: { kind: redis, url: "${sharedRedisUrl}", prefix: "${prefix}" }
`,
  );
  const child = spawn(process.execPath, [main, 'start', '-c', join(dir, 'portico.yaml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Open Redis connections and timers left behind would keep the process alive for ever; a generous bound.
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  assert.equal(code, 1, output);
  assert.match(output, /EADDRINUSE/);
});
