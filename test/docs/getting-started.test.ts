import { test } from 'node:test';
import { freePort } from '../helpers/portico-process.ts';
import { runDocument } from './run-doc.ts';

test('the getting-started steps run as written and print the documented answers', async (t) => {
  const port = String(await freePort());
  const adminPort = String(await freePort());
  await runDocument(
    t,
    'docs/getting-started.md',
    { '127.0.0.1:8080': `127.0.0.1:${port}`, '127.0.0.1:8081': `127.0.0.1:${adminPort}` },
    // `portico services` reads the admin API at 127.0.0.1:8081 unless told otherwise.
    { PORTICO_ADMIN_URL: `http://127.0.0.1:${adminPort}` },
  );
});
