import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/**
 * One request from a chosen local address: on Linux the whole 127/8 range is loopback, so a test can be
 * both an untrusted client (127.0.0.1) and a trusted proxy (127.0.0.2) of the same Portico.
 */
function get(url: string, from: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

describe('IP rules', () => {
  let upstream: TestUpstream;
  let portico: PorticoProcess;

  before(async () => {
    upstream = await startUpstream('ips');
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
trustedProxies: [127.0.0.2]
ipRules:
  deny: [198.51.100.66]
services:
  ips: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: office
    match: { path: /office/** }
    service: ips
    ipRules: { allow: [203.0.113.0/24, "2001:db8::/32"], deny: [203.0.113.13] }
  - name: not-local
    match: { path: /not-local/** }
    service: ips
    ipRules: { deny: [127.0.0.0/8] }
  - name: open
    match: { path: /open/** }
    service: ips
`,
    );
  });

  after(async () => {
    await portico?.stop();
    await upstream?.close();
  });

  test('an untrusted peer outside the allow list is refused with 403 forbidden_address', async () => {
    const answer = await get(`${portico.url}/office/x`, '127.0.0.1');
    assert.equal(answer.status, 403);
    assert.equal(answer.contentType, 'application/problem+json');
    assert.equal((JSON.parse(answer.body) as { code: string }).code, 'forbidden_address');
  });

  test('a spoofed X-Forwarded-For from an untrusted peer is ignored', async () => {
    const before = upstream.requests.length;
    const answer = await get(`${portico.url}/office/x`, '127.0.0.1', { 'x-forwarded-for': '203.0.113.5' });
    assert.equal(answer.status, 403);
    assert.equal(upstream.requests.length, before, 'a refused request never reaches the upstream');
  });

  test('behind a trusted proxy the forwarded client address is checked, IPv4 and IPv6', async () => {
    const via = (client: string) =>
      get(`${portico.url}/office/x`, '127.0.0.2', { 'x-forwarded-for': client });
    assert.equal((await via('203.0.113.5')).status, 200);
    assert.equal((await via('2001:db8::17')).status, 200);
    assert.equal((await via('198.51.100.1')).status, 403);
    assert.equal((await via('2001:db9::1')).status, 403);
    // deny wins over allow
    assert.equal((await via('203.0.113.13')).status, 403);
    // a hop that is not an address is never in an allow list
    assert.equal((await via('unknown')).status, 403);
  });

  test('a route deny list refuses the peer itself', async () => {
    assert.equal((await get(`${portico.url}/not-local/x`, '127.0.0.1')).status, 403);
    assert.equal((await get(`${portico.url}/open/x`, '127.0.0.1')).status, 200);
  });

  test('global rules apply to every route', async () => {
    const spoofer = { 'x-forwarded-for': '198.51.100.66' };
    assert.equal((await get(`${portico.url}/open/x`, '127.0.0.2', spoofer)).status, 403);
    assert.equal((await get(`${portico.url}/open/x`, '127.0.0.1', spoofer)).status, 200);
  });
});
