import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let orders: TestUpstream;
let books: TestUpstream;
let files: TestUpstream;
let dir: string;

const ordersContract = {
  openapi: '3.1.0',
  info: { title: 'orders', version: '1.0.0' },
  components: {
    schemas: {
      Line: {
        type: 'object',
        required: ['sku', 'qty'],
        properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
      },
    },
  },
  paths: {
    '/orders/{id}/lines': {
      post: {
        operationId: 'addLines',
        summary: 'Adds lines to an order',
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
          { name: 'X-Tenant', in: 'header', required: true, schema: { type: 'string', minLength: 3 } },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Line' } } },
              },
            },
          },
        },
        responses: { '200': { description: 'the order' } },
      },
    },
  },
};

const booksContract = `openapi: 3.0.3
info: { title: books, version: 2.0.0, x-sunset: "2030-01-01" }
paths:
  /books/{id}:
    get:
      parameters: [{ name: id, in: path, required: true, schema: { type: integer } }]
      responses:
        "200":
          description: a book
          content:
            application/json: { schema: { type: object, required: [title], properties: { title: { type: string } } } }
`;

/** Echoes the body it received with its framing, so a test sees exactly what went upstream. */
function echoBody(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const text = JSON.stringify({
      url: req.url,
      body: Buffer.concat(chunks).toString('utf8'),
      contentLength: req.headers['content-length'] ?? null,
      chunked: req.headers['transfer-encoding'] !== undefined,
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text);
  });
}

async function call(path: string, init: RequestInit = {}) {
  const res = await fetch(`${portico.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
}

const validLines = JSON.stringify({ items: [{ sku: 'a-1', qty: 2 }] });
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': 'acme', ...headers },
    body,
  });

before(async () => {
  [orders, books, files] = await Promise.all([
    startUpstream('orders'),
    startUpstream('books'),
    startUpstream('files'),
  ]);
  for (const upstream of [orders, files]) upstream.handler = echoBody;
  dir = await mkdtemp(join(tmpdir(), 'portico-contracts-'));
  await writeFile(join(dir, 'books.yaml'), booksContract);
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
limits: { bodySize: 1kb }
services:
  orders: {}
  books:
    instances: [{ url: "${books.url}", version: 2.0.0 }]
    versions:
      "2": { contract: "${join(dir, 'books.yaml')}" }
  files:
    instances: [{ url: "${files.url}" }]
routes:
  - name: orders
    match: { path: /orders/** }
    service: orders
    version: { from: [path], default: "^1" }
    validate: request
  - name: books
    match: { path: /api/books/** }
    service: books
    stripPrefix: /api
    version: { from: [header], default: "^2" }
    validate: request-and-response
  - name: files
    match: { path: /files/** }
    service: files
  - name: loose
    match: { path: /loose/** }
    service: files
    validate: request
`,
  );
  const res = await fetch(`${portico.adminUrl}/v1/services/orders/instances/o1`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: orders.url, version: '1.0.0', ttl: '60s', contract: ordersContract }),
  });
  assert.equal(res.status, 201, await res.text());
});

after(async () => {
  await portico?.stop();
  await Promise.all([orders?.close(), books?.close(), files?.close()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('a request that follows the contract goes upstream with its body intact', async () => {
  const res = await post('/v1/orders/12/lines?dryRun=true', validLines);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.url, '/orders/12/lines?dryRun=true');
  assert.equal(res.body.body, validLines);
  assert.equal(res.body.contentLength, String(Buffer.byteLength(validLines)));
});

test('a chunked body is read whole and sent upstream with a Content-Length', async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(validLines.slice(0, 10)));
      controller.enqueue(new TextEncoder().encode(validLines.slice(10)));
      controller.close();
    },
  });
  const res = await call('/v1/orders/12/lines', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': 'acme' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.body, validLines);
  assert.equal(res.body.chunked, false);
  assert.equal(res.body.contentLength, String(Buffer.byteLength(validLines)));
});

test('400 validation_failed lists every violation with its location: path, query, header and body', async () => {
  const before = orders.requests.length;
  const res = await post(
    '/v1/orders/abc/lines?dryRun=maybe',
    JSON.stringify({ items: [{ sku: 'a', qty: 0 }, { qty: 1 }] }),
    { 'x-tenant': 'ab' },
  );
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'validation_failed');
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.deepEqual(res.body.errors, [
    { in: 'path', path: '/id', message: 'must be integer' },
    { in: 'query', path: '/dryRun', message: 'must be boolean' },
    { in: 'header', path: '/x-tenant', message: 'must NOT have fewer than 3 characters' },
    { in: 'body', path: '/items/0/qty', message: 'must be >= 1' },
    { in: 'body', path: '/items/1/sku', message: 'is required' },
  ]);
  assert.equal(orders.requests.length, before, 'an invalid request never reaches the service');
});

test('missing required parts and a body that is not JSON are violations too', async () => {
  const missing = await call('/v1/orders/1/lines', { method: 'POST' });
  assert.deepEqual(missing.body.errors, [
    { in: 'header', path: '/x-tenant', message: 'is required' },
    { in: 'body', path: '', message: 'a request body is required' },
  ]);
  const broken = await post('/v1/orders/1/lines', '{"items": [');
  assert.deepEqual(broken.body.errors, [{ in: 'body', path: '', message: 'is not valid JSON' }]);
  const unknown = await call('/v1/orders/1');
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body.errors, [
    { in: 'path', path: '', message: '/orders/1 is not a path of the contract' },
  ]);
});

test('a body over limits.bodySize on a validating route answers 413, declared or chunked', async () => {
  const big = JSON.stringify({ items: [{ sku: 'x'.repeat(2000), qty: 1 }] });
  const declared = await post('/v1/orders/1/lines', big);
  assert.equal(declared.status, 413);
  assert.equal(declared.body.code, 'payload_too_large');
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(600).fill(32));
      controller.close();
    },
  });
  const chunked = await call('/v1/orders/1/lines', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenant': 'acme' },
    body: chunks,
    duplex: 'half',
  } as RequestInit);
  assert.equal(chunked.status, 413);
});

/** Sends a body whose second half leaves only once the service has the request: a buffering gateway would hang. */
async function streamThrough(path: string) {
  let started = false;
  files.handler = (req, res) => {
    started = true;
    echoBody(req, res);
  };
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 1) await eventually(() => assert.ok(started), 5_000);
      if (sent === 2) return controller.close();
      controller.enqueue(new TextEncoder().encode(sent === 0 ? 'not ' : 'json'));
      sent++;
    },
  });
  return call(path, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
}

test('a route without validate streams the body: the service sees the request before the body ends', async () => {
  const res = await streamThrough('/files/x');
  assert.equal(res.status, 200);
  assert.equal(res.body.body, 'not json');
  assert.equal(res.body.chunked, true);
});

test('a validating route whose service has no contract passes requests unchecked and streamed', async () => {
  const res = await streamThrough('/loose/x');
  assert.equal(res.status, 200);
  assert.equal(res.body.body, 'not json');
  assert.equal(res.body.chunked, true);
});

test('a contract file from config validates the upstream path (after stripPrefix) and its x-sunset applies', async () => {
  const bad = await call('/api/books/abc');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.errors, [{ in: 'path', path: '/id', message: 'must be integer' }]);
  const good = await call('/api/books/7');
  assert.equal(good.status, 200);
  assert.equal(good.body.url, '/books/7');
  assert.equal(good.headers.get('sunset'), 'Tue, 01 Jan 2030 00:00:00 GMT');
});

async function responseViolations(): Promise<number> {
  const text = await (await fetch(`${portico.adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('portico_contract_response_violations_total{route="books"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('answers that break the contract are counted and logged but reach the client unchanged', async () => {
  books.handler = (req, res) => {
    const body = req.url === '/books/1' ? '{"title":"Dune"}' : '{"name":"no title"}';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };
  const before = await responseViolations();
  const good = await call('/api/books/1');
  assert.deepEqual(good.body, { title: 'Dune' });
  assert.equal(await responseViolations(), before);
  const bad = await call('/api/books/2');
  assert.equal(bad.status, 200);
  assert.deepEqual(bad.body, { name: 'no title' });
  await eventually(async () => assert.equal(await responseViolations(), before + 1));
  await eventually(() =>
    assert.match(portico.output(), /an answer does not match the contract \(report-only\)/),
  );
  assert.match(portico.output(), /"path":"\/title","message":"is required"/);
});

test('GET /v1/catalog lists every operation at its public path, per version, tagged by service', async () => {
  const res = await fetch(`${portico.adminUrl}/v1/catalog`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as {
    openapi: string;
    paths: Record<string, Record<string, { tags: string[]; operationId?: string; 'x-portico': unknown }>>;
    tags: { name: string }[];
    components: { schemas: Record<string, unknown> };
  };
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.paths), ['/api/books/{id}', '/v1/orders/{id}/lines']);
  const addLines = doc.paths['/v1/orders/{id}/lines']?.post;
  assert.deepEqual(addLines?.tags, ['orders']);
  assert.equal(addLines?.operationId, 'orders_v1_addLines');
  assert.deepEqual(addLines?.['x-portico'], { route: 'orders', service: 'orders', version: '1.0.0' });
  assert.deepEqual(doc.paths['/api/books/{id}']?.get?.['x-portico'], {
    route: 'books',
    service: 'books',
    version: '2.x',
  });
  assert.deepEqual(
    doc.tags.map((t) => t.name),
    ['books', 'orders'],
  );
  assert.ok(doc.components.schemas.orders_v1_Line, 'components are kept under a per-service prefix');
  assert.match(JSON.stringify(addLines), /#\/components\/schemas\/orders_v1_Line/);
});

test('GET /v1/catalog.html is a self-contained reference page', async () => {
  const res = await fetch(`${portico.adminUrl}/v1/catalog.html`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  assert.match(html, /<h2>orders<\/h2>/);
  assert.match(html, /POST<\/span> <code>\/v1\/orders\/\{id\}\/lines<\/code>/);
  assert.match(html, /Adds lines to an order/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!portico)/);
});
