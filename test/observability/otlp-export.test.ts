import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test, type TestContext } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerSpan = '00f067aa0ba902b7';
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;
const loadedMarker = 'OTEL_MODULE_LOADED';

interface OtlpValue {
  readonly stringValue?: string;
  readonly intValue?: number | string;
}
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly traceState?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: readonly { key: string; value: OtlpValue }[];
  readonly status?: { code?: number };
}
interface OtlpExport {
  readonly resourceSpans: readonly {
    resource: { attributes: readonly { key: string; value: OtlpValue }[] };
    scopeSpans: readonly { spans: readonly OtlpSpan[] }[];
  }[];
}

interface Collector {
  readonly url: string;
  readonly exports: { headers: IncomingHttpHeaders; body: OtlpExport }[];
  spans(): OtlpSpan[];
}

/** An OTLP/HTTP collector that keeps every JSON export it receives. */
async function startCollector(t: TestContext): Promise<Collector> {
  const exports: Collector['exports'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      exports.push({ headers: req.headers, body: JSON.parse(text) as OtlpExport });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    exports,
    spans: () =>
      exports.flatMap((e) => e.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))),
  };
}

/**
 * A preload for the Portico process that prints a marker the first time an OpenTelemetry SDK or exporter module
 * is resolved: the process's own account of whether it loaded them. `@opentelemetry/api` is left out: prom-client
 * loads that small API package in every process for its exemplars, tracing or not.
 */
async function moduleWatch(t: TestContext): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'portico-otel-watch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'watch.mjs');
  await writeFile(
    file,
    `import { registerHooks } from 'node:module';
let seen = false;
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    if (!seen && result.url.includes('/@opentelemetry/') && !result.url.includes('/@opentelemetry/api/')) {
      seen = true;
      process.stderr.write('${loadedMarker}\\n');
    }
    return result;
  },
});
`,
  );
  const existing = process.env.NODE_OPTIONS;
  const option = `--import=${pathToFileURL(file).href}`;
  return { NODE_OPTIONS: existing === undefined ? option : `${existing} ${option}` };
}

async function upstream(t: TestContext, name: string): Promise<TestUpstream> {
  const started = await startUpstream(name);
  t.after(() => started.close());
  return started;
}

function servicesYaml(users: TestUpstream, orders: TestUpstream): string {
  return `
services:
  users: { instances: [{ url: ${users.url} }] }
  orders: { instances: [{ url: ${orders.url} }] }
routes:
  - { name: users, match: { path: /users/** }, service: users }
  - { name: orders, match: { path: /orders/** }, service: orders }
aggregates:
  - name: profile
    match: { path: "/profile/{id}", methods: [GET] }
    calls:
      user: { service: users, path: "/users/{id}" }
      orders: { service: orders, path: "/orders/of/{id}" }
`;
}

async function get(portico: PorticoProcess, path: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${portico.url}${path}`, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** The trace and span id in the `traceparent` the upstream's last request carried. */
function seenBy(upstream: TestUpstream): { traceId: string; spanId: string } {
  const match = traceparentPattern.exec(String(upstream.requests.at(-1)?.headers.traceparent));
  assert.ok(match, `${upstream.name} received a traceparent`);
  return { traceId: match[1] as string, spanId: match[2] as string };
}

function attribute(span: OtlpSpan, key: string): string | number | undefined {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  return value.stringValue ?? (value.intValue === undefined ? undefined : Number(value.intValue));
}

function spanOf(collector: Collector, spanId: string): OtlpSpan {
  const span = collector.spans().find((s) => s.spanId === spanId);
  assert.ok(span, `a span ${spanId} among ${collector.spans().length} exported`);
  return span;
}

test('exports the gateway span with the ids it sent upstream, flushed on shutdown', async (t) => {
  const collector = await startCollector(t);
  const users = await upstream(t, 'users');
  const orders = await upstream(t, 'orders');
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
tracing:
  otlp:
    endpoint: ${collector.url}
    headers: { x-collector-key: test-key-1 }
    serviceName: edge-test
${servicesYaml(users, orders)}`,
    { env: await moduleWatch(t) },
  );
  t.after(() => portico.stop());

  const caller = {
    traceparent: `00-${callerTrace}-${callerSpan}-01`,
    tracestate: 'rojo=00f067aa0ba902b7',
    'x-request-id': 'otlp-continued',
  };
  assert.equal(await get(portico, '/users/7', caller), 200);
  const continued = seenBy(users);
  orders.fault = { kind: 'status', status: 503 };
  assert.equal(await get(portico, '/orders/9', { 'x-request-id': 'otlp-failed' }), 503);
  const started = seenBy(orders);
  orders.fault = { kind: 'none' };
  assert.equal(await get(portico, '/profile/42', { 'x-request-id': 'otlp-aggregate' }), 200);
  const aggregate = seenBy(users);

  // The batch processor exports on its own schedule; shutdown must flush what is queued.
  assert.equal(await portico.stop(), 0, portico.output());
  await eventually(() => assert.ok(collector.spans().length >= 3, `${collector.spans().length} spans`));

  const first = collector.exports[0];
  assert.ok(first);
  assert.equal(first.headers['x-collector-key'], 'test-key-1');
  const resource = first.body.resourceSpans[0]?.resource.attributes.find((a) => a.key === 'service.name');
  assert.equal(resource?.value.stringValue, 'edge-test');

  const span = spanOf(collector, continued.spanId);
  assert.equal(continued.traceId, callerTrace);
  assert.equal(span.traceId, callerTrace);
  assert.equal(span.parentSpanId, callerSpan, "the caller's span is the parent");
  assert.equal(span.traceState, 'rojo=00f067aa0ba902b7', "the caller's tracestate stays with its trace");
  assert.equal(span.name, 'GET users');
  assert.equal(span.kind, 2, 'SPAN_KIND_SERVER');
  assert.equal(attribute(span, 'http.request.method'), 'GET');
  assert.equal(attribute(span, 'http.route'), '/users/**');
  assert.equal(attribute(span, 'http.response.status_code'), 200);
  assert.equal(attribute(span, 'portico.route'), 'users');
  assert.equal(attribute(span, 'portico.request_id'), 'otlp-continued');
  assert.equal(attribute(span, 'portico.upstream.address'), `127.0.0.1:${users.port}`);
  assert.notEqual(span.status?.code, 2, 'a 200 is not an error');

  const failed = spanOf(collector, started.spanId);
  assert.equal(failed.traceId, started.traceId, 'a trace the gateway started keeps its id');
  assert.ok(failed.parentSpanId === undefined || failed.parentSpanId === '', 'a root span has no parent');
  assert.equal(failed.name, 'GET orders');
  assert.equal(attribute(failed, 'http.response.status_code'), 503);
  assert.equal(failed.status?.code, 2, 'STATUS_CODE_ERROR on 5xx');

  const composite = spanOf(collector, aggregate.spanId);
  assert.equal(composite.name, 'GET profile');
  assert.equal(seenBy(orders).spanId, aggregate.spanId, 'every aggregate call is a child of the one span');
  assert.match(portico.output(), new RegExp(loadedMarker));
});

test('loads no OpenTelemetry SDK or exporter module when tracing is not configured', async (t) => {
  const users = await upstream(t, 'users');
  const orders = await upstream(t, 'orders');
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
${servicesYaml(users, orders)}`,
    { env: await moduleWatch(t) },
  );
  t.after(() => portico.stop());
  assert.equal(await get(portico, '/users/7', { traceparent: `00-${callerTrace}-${callerSpan}-01` }), 200);
  assert.equal(seenBy(users).traceId, callerTrace, 'propagation works without export');
  assert.equal(await portico.stop(), 0);
  assert.doesNotMatch(portico.output(), new RegExp(loadedMarker));
});
