import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, freePorts } from './free-port.ts';
import { startPortico } from './portico-process.ts';

const config = ({ port, adminPort }: { port: number; adminPort: number }) => `listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services: {}
routes: []
`;

test('a port taken between the draw and the bind: Portico starts again on new ports', async (t) => {
  // Another test file's process holding the drawn port, as when two files draw the same one.
  const squatter = createServer();
  squatter.listen(await freePort(), '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => squatter.close());
  const taken = (squatter.address() as { port: number }).port;
  const draws: number[] = [];
  const portico = await startPortico(config, {
    ports: async () => {
      const ports = draws.length === 0 ? { port: taken, adminPort: await freePort() } : await freePorts();
      draws.push(ports.port);
      return ports;
    },
  });
  t.after(() => portico.stop());
  assert.deepEqual(draws.length, 2, 'one retry after EADDRINUSE');
  assert.notEqual(portico.port, taken);
  assert.equal((await fetch(`${portico.adminUrl}/readyz`)).status, 200);
});

test('drawn ports lie outside the kernel ephemeral range and are distinct', async () => {
  for (let i = 0; i < 20; i++) {
    const { port, adminPort } = await freePorts();
    assert.notEqual(port, adminPort);
    for (const p of [port, adminPort]) assert.ok(p >= 20_000 && p < 32_000, String(p));
  }
});
