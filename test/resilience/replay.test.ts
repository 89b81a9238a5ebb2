import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let failing: TestUpstream;
let echo: TestUpstream;
let dir: string;

const contract = `openapi: 3.1.0
info: { title: orders, version: 1.0.0 }
paths:
  /orders:
    post:
      requestBody:
        required: true
        content:
          application/json: { schema: { type: object, required: [sku], properties: { sku: { type: string } } } }
      responses: { "200": { description: ok } }
`;

before(async () => {
  [failing, echo] = await Promise.all([startUpstream('failing'), startUpstream('echo')]);
  failing.handler = (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"down":true}'));
  };
  echo.handler = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ body: Buffer.concat(chunks).toString('utf8') })),
    );
  };
  dir = await mkdtemp(join(tmpdir(), 'portico-replay-'));
  await writeFile(join(dir, 'orders.yaml'), contract);
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  orders:
    instances:
      - { url: "${failing.url}", version: 1.0.0 }
      - { url: "${echo.url}", version: 1.0.0 }
    retries: { attempts: 1, on: [503], methods: [POST] }
    versions:
      "1": { contract: "${join(dir, 'orders.yaml')}" }
routes:
  - name: orders
    match: { path: /orders }
    service: orders
    version: { from: [header], default: "^1" }
    validate: request
`,
  );
});

after(async () => {
  await portico?.stop();
  await Promise.all([failing?.close(), echo?.close()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('a body buffered for validation is replayed on the retry when the route opts POST into retries', async () => {
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${portico.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sku: `s-${i}` }),
    });
    assert.equal(res.status, 200, `request ${i} was not retried on the healthy instance`);
    assert.deepEqual(await res.json(), { body: JSON.stringify({ sku: `s-${i}` }) });
  }
  assert.ok(failing.requests.length >= 1, 'the failing instance was never tried');
});
