import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createService } from '../../src/sdk/index.ts';
import { createCertificateFolder, type CertificateFolder, type TestCa } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import {
  EchoService,
  startGrpcEcho,
  type EchoClient,
  type GrpcEcho,
  type Msg,
} from '../helpers/grpc-echo.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';

interface UnaryOutcome {
  error: grpc.ServiceError | null;
  answer: Msg | undefined;
  trailers: grpc.Metadata | undefined;
}

function unary(client: EchoClient, msg: Msg, metadata = new grpc.Metadata()): Promise<UnaryOutcome> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = client.Unary(msg, metadata, {}, (error, answer) => {
      setImmediate(() => resolve({ error, answer, trailers }));
    });
    call.on('status', (status: grpc.StatusObject) => (trailers = status.metadata));
  });
}

// Registry answers are read field by field.
type Json = Record<string, unknown> & { instances?: Record<string, unknown>[] };

describe('gRPC servers in the registry', () => {
  let portico: PorticoProcess;
  let h2cPort: number;
  let certs: CertificateFolder;
  let ca: TestCa;
  const servers: GrpcEcho[] = [];
  const clients: grpc.Client[] = [];
  const client = (): EchoClient => {
    const made = new EchoService(
      `127.0.0.1:${h2cPort}`,
      grpc.credentials.createInsecure(),
    ) as unknown as EchoClient;
    clients.push(made);
    return made;
  };
  const echo = async (name: string, options: { bind?: boolean } = {}): Promise<GrpcEcho> => {
    const server = await startGrpcEcho(name, options);
    servers.push(server);
    return server;
  };
  const register = async (
    service: string,
    id: string,
    body: object,
  ): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${portico.adminUrl}/v1/services/${service}/instances/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const listed = async (service: string): Promise<Record<string, unknown>[]> => {
    const res = await fetch(`${portico.adminUrl}/v1/services/${service}/instances`);
    return ((await res.json()) as Json).instances ?? [];
  };

  before(async () => {
    certs = createCertificateFolder();
    ca = certs.createCa('registry-grpc-ca');
    h2cPort = await freePort();
    // No `protocol` on either service: what the instances declare decides.
    portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true } }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  greeter: {}
  sdk-echo: {}
  secure: { tls: { ca: ${ca.certFile}, serverName: grpc.example.test } }
routes:
  - name: secure
    match: { path: /portico.test.Echo/**, headers: { x-test-tls: "on" } }
    service: secure
  - name: sdk
    match: { path: /portico.test.Echo/**, headers: { x-test-sdk: "on" } }
    service: sdk-echo
  - { name: greeter, match: { path: /portico.test.Echo/** }, service: greeter }
`,
    );
  });

  after(async () => {
    for (const made of clients) made.close();
    await portico?.stop();
    await Promise.all(servers.map((server) => server.close()));
    certs?.remove();
  });

  test('an instance registered with protocol grpc is called over h2c though its service names no protocol', async () => {
    const a = await echo('registered-a');
    const { status, body } = await register('greeter', 'a', {
      url: a.url,
      protocol: 'grpc',
      version: '1.0.0',
      ttl: '30s',
      healthCheck: { interval: '1s' },
    });
    assert.equal(status, 201);
    assert.equal(body.protocol, 'grpc');
    // A gRPC instance's check defaults to the standard health service.
    assert.equal((body.healthCheck as Json).path, '/grpc.health.v1.Health/Check');
    await eventually(async () => {
      const { error, answer, trailers } = await unary(client(), { text: 'hi' });
      assert.equal(error, null);
      assert.equal(answer?.servedBy, 'registered-a');
      assert.deepEqual(trailers?.get('x-served-by'), ['registered-a']);
    });
  });

  test('the gRPC health check of a named service turns a registered instance critical, then passing', async () => {
    const b = await echo('registered-b');
    b.notServing.add('portico.test.Echo');
    const { status } = await register('greeter', 'b', {
      url: b.url,
      protocol: 'grpc',
      version: '1.0.0',
      healthCheck: { grpcService: 'portico.test.Echo', interval: '1s', unhealthyThreshold: 1 },
    });
    assert.equal(status, 201);
    await eventually(async () => {
      const b = (await listed('greeter')).find((instance) => instance.id === 'b');
      assert.equal(b?.status, 'critical');
    }, 10_000);
    for (let i = 0; i < 4; i++)
      assert.equal((await unary(client(), { text: 'x' })).answer?.servedBy, 'registered-a');
    b.notServing.clear();
    await eventually(async () => {
      const b = (await listed('greeter')).find((instance) => instance.id === 'b');
      assert.equal(b?.status, 'passing');
    }, 10_000);
  });

  test('a bad protocol or gRPC health field is refused as invalid_registration naming the field', async () => {
    const cases: [object, string][] = [
      [{ url: 'http://127.0.0.1:9', version: '1.0.0', protocol: 'http3' }, 'protocol'],
      [{ url: 'http://127.0.0.1:9', version: '1.0.0', protocol: 'h2' }, 'protocol'],
      [{ url: 'https://127.0.0.1:9', version: '1.0.0', protocol: 'h2c' }, 'protocol'],
      [
        { url: 'http://127.0.0.1:9', version: '1.0.0', healthCheck: { path: '/health', grpcService: 'a.B' } },
        'healthCheck.grpcService',
      ],
      [
        {
          url: 'http://127.0.0.1:9',
          version: '1.0.0',
          protocol: 'grpc',
          healthCheck: { grpcService: 'a b' },
        },
        'healthCheck.grpcService',
      ],
    ];
    for (const [body, field] of cases) {
      const res = await fetch(`${portico.adminUrl}/v1/services/greeter/instances/bad`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      const problem = (await res.json()) as Json;
      assert.equal(problem.code, 'invalid_registration');
      assert.equal(problem.field, field, JSON.stringify(body));
    }
  });

  test('createService registers a grpc-js server, serves through the gateway, and drains a call in flight', async () => {
    const c = await echo('sdk-c', { bind: false });
    const service = await createService({
      name: 'sdk-echo',
      version: '2.0.0',
      registry: portico.adminUrl,
      grpc: { server: c.server },
      ttl: '2s',
      heartbeatMs: 200,
      drainGraceMs: 150,
      handleSignals: false,
      healthCheck: { interval: '1s' },
      logger: { info: () => {}, warn: () => {} },
    });
    assert.ok(service.port > 0);
    assert.equal(service.grpcServer, c.server);
    const [instance] = await listed('sdk-echo');
    assert.equal(instance?.protocol, 'grpc');
    assert.equal(instance?.url, `${service.url}/`);
    const metadata = new grpc.Metadata();
    metadata.set('x-test-sdk', 'on');
    await eventually(async () => {
      const { error, answer } = await unary(client(), { text: 'sdk' }, metadata);
      assert.equal(error, null);
      assert.equal(answer?.servedBy, 'sdk-c');
    });
    // A call running when the drain starts finishes; the instance then leaves the registry.
    const callsBefore = c.calls.length;
    const inFlight = unary(client(), { text: 'slow:600' }, metadata);
    await eventually(() => c.calls.length > callsBefore);
    await service.close();
    const late = await inFlight;
    assert.equal(late.error, null);
    assert.equal(late.answer?.text, 'slow:600');
    assert.deepEqual(await listed('sdk-echo'), []);
    const direct = new EchoService(
      `127.0.0.1:${service.port}`,
      grpc.credentials.createInsecure(),
    ) as unknown as EchoClient;
    clients.push(direct);
    const refused = await unary(direct, { text: 'after' });
    assert.equal(refused.error?.code, grpc.status.UNAVAILABLE);
  });

  test('createService registers a server the caller bound, on its port', async () => {
    const d = await echo('sdk-d');
    const service = await createService({
      name: 'sdk-echo',
      version: '2.1.0',
      id: 'sdk-d',
      registry: portico.adminUrl,
      grpc: { server: d.server, boundPort: d.port },
      drainGraceMs: 0,
      handleSignals: false,
      logger: { info: () => {}, warn: () => {} },
    });
    try {
      assert.equal(service.port, d.port);
      const [instance] = await listed('sdk-echo');
      assert.equal(instance?.url, `http://127.0.0.1:${d.port}/`);
      assert.equal(instance?.protocol, 'grpc');
      const metadata = new grpc.Metadata();
      metadata.set('x-test-sdk', 'on');
      await eventually(async () => {
        assert.equal((await unary(client(), { text: 'bound' }, metadata)).answer?.servedBy, 'sdk-d');
      });
    } finally {
      await service.close();
    }
    assert.deepEqual(await listed('sdk-echo'), []);
  });

  test('a gRPC instance registered with an https url is called over TLS (h2 by ALPN)', async () => {
    const site = ca.issue('grpc-site', { names: ['grpc.example.test'] });
    const e = await echo('registered-tls', { bind: false });
    const credentials = grpc.ServerCredentials.createSsl(
      null,
      [{ private_key: Buffer.from(site.key), cert_chain: Buffer.from(site.cert) }],
      false,
    );
    const port = await new Promise<number>((resolve, reject) =>
      e.server.bindAsync('127.0.0.1:0', credentials, (err, bound) =>
        err === null ? resolve(bound) : reject(err),
      ),
    );
    const { status } = await register('secure', 'tls-1', {
      url: `https://127.0.0.1:${port}`,
      protocol: 'grpc',
      version: '1.0.0',
    });
    assert.equal(status, 201);
    const metadata = new grpc.Metadata();
    metadata.set('x-test-tls', 'on');
    await eventually(async () => {
      const { error, answer } = await unary(client(), { text: 'tls' }, metadata);
      assert.equal(error, null);
      assert.equal(answer?.servedBy, 'registered-tls');
    });
  });
});
