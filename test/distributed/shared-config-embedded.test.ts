import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { eventually } from '../helpers/eventually.ts';
import { startPorticoFromStore } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const run = promisify(execFile);
const main = resolve(import.meta.dirname, '..', '..', 'src/cli/main.ts');

function document(upstream: TestUpstream): string {
  return `
listen: 127.0.0.1:\${GW_PORT}
admin: { listen: "127.0.0.1:\${ADMIN_PORT}" }
logging: { level: warn, accessLog: false }
services:
  colour: { instances: [{ url: "${upstream.url}" }] }
routes:
  - { name: colour, match: { path: /colour }, service: colour }
`;
}

test('on the embedded store, a revision written by another process reaches the node following the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portico-embedded-shared-'));
  const [blue, green] = await Promise.all([startUpstream('blue'), startUpstream('green')]);
  t.after(async () => {
    await Promise.all([blue.close(), green.close()]);
    await rm(dir, { recursive: true, force: true });
  });
  const store = `embedded:${join(dir, 'data')}`;
  // The CLI validates with its own environment: give it the variables the document names.
  const env = { ...process.env, GW_PORT: '1', ADMIN_PORT: '2' };
  await writeFile(join(dir, 'blue.yaml'), document(blue));
  await writeFile(join(dir, 'green.yaml'), document(green));
  await run(process.execPath, [main, 'config', 'apply', '-f', join(dir, 'blue.yaml'), '--store', store], {
    env,
  });
  const node = await startPorticoFromStore({ store, prefix: 'portico:', nodeId: 'solo' });
  t.after(() => node.stop());
  const colour = async () =>
    ((await (await fetch(`${node.url}/colour`)).json()) as { upstream: string }).upstream;
  assert.equal(await colour(), 'blue');

  const applied = await run(
    process.execPath,
    [main, 'config', 'apply', '-f', join(dir, 'green.yaml'), '--store', store, '--wait'],
    { env },
  );
  assert.match(applied.stdout, /stored revision 2/);
  assert.match(applied.stdout, /^solo +up +revision 2$/m);
  await eventually(async () => assert.equal(await colour(), 'green'));
  const again = await run(
    process.execPath,
    [main, 'config', 'apply', '-f', join(dir, 'green.yaml'), '--store', store],
    {
      env,
    },
  );
  assert.match(again.stdout, /unchanged: revision 2/);
});
