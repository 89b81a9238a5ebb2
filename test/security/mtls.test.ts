import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import {
  createCertificateFolder,
  type CertificateFolder,
  type IssuedCertificate,
  type TestCa,
} from '../helpers/certificates.ts';
import { freePort, startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

describe('mutual TLS from clients (auth method mtls)', () => {
  let certs: CertificateFolder;
  let serverCa: TestCa;
  let clientCa: TestCa;
  let strangerCa: TestCa;
  let portico: PorticoProcess;
  let upstream: TestUpstream;
  let optionalPort: number;
  let requiredPort: number;
  const agents: Agent[] = [];
  const clients: Record<string, IssuedCertificate> = {};

  /** GET through a fresh agent presenting `client` (or no certificate). */
  async function get(port: number, path: string, client?: IssuedCertificate) {
    const agent = new Agent({
      connect: {
        ca: serverCa.cert,
        servername: 'api.example.test',
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
      },
    });
    agents.push(agent);
    const res = await request(`https://127.0.0.1:${port}${path}`, { dispatcher: agent });
    const body = await res.body.text();
    return { status: res.statusCode, body };
  }

  before(async () => {
    certs = createCertificateFolder();
    serverCa = certs.createCa('server-ca');
    clientCa = certs.createCa('client-ca');
    strangerCa = certs.createCa('stranger-ca');
    const site = serverCa.issue('site', { names: ['api.example.test'] });
    clients.a = clientCa.issue('client-a', { names: ['client-a.test'], client: true });
    clients.b = clientCa.issue('client-b', { names: ['client-b.test'], client: true });
    clients.c = clientCa.issue('client-c', { names: [], client: true, subject: '/CN=client-c/O=Shop' });
    clients.nobody = clientCa.issue('client-nobody', { names: ['nobody.test'], client: true });
    clients.stranger = strangerCa.issue('client-stranger', { names: ['client-a.test'], client: true });
    const fingerprintB = new X509Certificate(clients.b.cert).fingerprint256;
    upstream = await startUpstream('mtls-echo');
    optionalPort = await freePort();
    requiredPort = await freePort();
    const tls = (mode: string, forward = false) => `
      certificates: [{ cert: ${site.certFile}, key: ${site.keyFile} }]
      clientAuth: { ca: ${clientCa.certFile}, mode: ${mode}, forward: ${forward} }`;
    portico = await startPortico(
      ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - address: 127.0.0.1:${optionalPort}
    tls: ${tls('optional', true)}
  - address: 127.0.0.1:${requiredPort}
    tls: ${tls('required')}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: app-a, certificates: ["san:DNS:client-a.test"], scopes: [read] }
  - { id: app-b, certificates: ["sha256:${fingerprintB}"], scopes: [read] }
  - { id: app-c, certificates: ["subject:CN=client-c, O=Shop"] }
services:
  echo: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: secure
    match: { path: /secure/** }
    service: echo
    auth: [mtls]
    scopes: [read]
    rateLimit: { limit: 2, window: 1m, by: consumer }
  - { name: any, match: { path: /any/** }, service: echo, auth: [mtls] }
  - { name: open, match: { path: /open/** }, service: echo }
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await Promise.all(agents.map((agent) => agent.close()));
    await upstream?.close();
    certs?.remove();
  });

  test('a verified certificate maps to its consumer by SAN, fingerprint or subject', async () => {
    const a = await get(optionalPort, '/any/x', clients.a);
    assert.equal(a.status, 200);
    assert.equal(upstream.requests.at(-1)?.headers['x-consumer-id'], 'app-a');
    assert.equal((await get(optionalPort, '/any/x', clients.b)).status, 200);
    assert.equal(upstream.requests.at(-1)?.headers['x-consumer-id'], 'app-b');
    assert.equal((await get(requiredPort, '/any/x', clients.c)).status, 200);
    assert.equal(upstream.requests.at(-1)?.headers['x-consumer-id'], 'app-c');
  });

  test('scopes and rate limits apply to the certificate consumer', async () => {
    assert.equal((await get(optionalPort, '/secure/1', clients.a)).status, 200);
    assert.equal((await get(optionalPort, '/secure/2', clients.a)).status, 200);
    const limited = await get(optionalPort, '/secure/3', clients.a);
    assert.equal(limited.status, 429);
    // Another consumer has its own budget.
    assert.equal((await get(optionalPort, '/secure/1', clients.b)).status, 200);
    // app-c has no `read` scope.
    assert.equal((await get(optionalPort, '/secure/1', clients.c)).status, 403);
  });

  test('optional mode: no certificate, an unknown CA or an unknown certificate get 401', async () => {
    const none = await get(optionalPort, '/any/x');
    assert.equal(none.status, 401);
    assert.match(none.body, /credentials are missing/);
    const stranger = await get(optionalPort, '/any/x', clients.stranger);
    assert.equal(stranger.status, 401);
    assert.match(stranger.body, /not trusted/);
    const nobody = await get(optionalPort, '/any/x', clients.nobody);
    assert.equal(nobody.status, 401);
    assert.match(nobody.body, /belongs to no consumer/);
  });

  test('required mode: the handshake refuses clients without a certificate from the CA', async () => {
    await assert.rejects(get(requiredPort, '/any/x'));
    await assert.rejects(get(requiredPort, '/any/x', clients.stranger));
    assert.equal((await get(requiredPort, '/any/x', clients.a)).status, 200);
  });

  test('a plain listener never authenticates by certificate', async () => {
    const res = await request(`${portico.url}/any/x`);
    assert.equal(res.statusCode, 401);
    await res.body.dump();
  });

  test('forward: the verified certificate goes upstream in Client-Cert; a client-sent one never does', async () => {
    assert.equal((await get(optionalPort, '/any/x', clients.a)).status, 200);
    const der = new X509Certificate(clients.a!.cert).raw.toString('base64');
    assert.equal(upstream.requests.at(-1)?.headers['client-cert'], `:${der}:`);
    // The required listener does not forward; an untrusted certificate is never forwarded.
    assert.equal((await get(requiredPort, '/any/x', clients.a)).status, 200);
    assert.equal(upstream.requests.at(-1)?.headers['client-cert'], undefined);
    const forged = await request(`${portico.url}/open/x`, { headers: { 'client-cert': `:${der}:` } });
    assert.equal(forged.statusCode, 200);
    await forged.body.dump();
    assert.equal(upstream.requests.at(-1)?.headers['client-cert'], undefined);
  });
});
