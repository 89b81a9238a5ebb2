import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let v1: TestUpstream;
let v2: TestUpstream;

const contract = (version: string, dates: Record<string, string>) => ({
  openapi: '3.1.0',
  info: { title: 'parcels', version, ...dates },
  paths: { '/parcels/{id}': { get: { responses: { '200': { description: 'a parcel' } } } } },
});

async function register(id: string, url: string, version: string, body: object): Promise<void> {
  const res = await fetch(`${portico.adminUrl}/v1/services/parcels/instances/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, version, ttl: '60s', contract: body }),
  });
  assert.equal(res.status, 201, await res.text());
}

before(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  parcels:
    versions:
      "2": { deprecated: "2026-01-01" }
routes:
  - name: parcels
    match: { path: /parcels/** }
    service: parcels
    version: { from: [path], default: "^2" }
`,
  );
  await register(
    'p1',
    v1.url,
    '1.2.0',
    contract('1.2.0', { 'x-deprecated': '2026-06-01', 'x-sunset': '2027-01-01' }),
  );
  await register(
    'p2',
    v2.url,
    '2.0.0',
    contract('2.0.0', { 'x-deprecated': '2030-01-01', 'x-sunset': '2031-01-01' }),
  );
});

after(async () => {
  await portico?.stop();
  await Promise.all([v1?.close(), v2?.close()]);
});

test('a registered contract with x-deprecated and x-sunset sets Deprecation and Sunset on its answers', async () => {
  await eventually(async () => {
    const res = await fetch(`${portico.url}/v1/parcels/7`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('deprecation'), `@${Date.parse('2026-06-01T00:00:00Z') / 1000}`);
    assert.equal(res.headers.get('sunset'), new Date('2027-01-01T00:00:00Z').toUTCString());
  });
});

test('config dates win over those of a registered contract, date by date', async () => {
  await eventually(async () => {
    const res = await fetch(`${portico.url}/v2/parcels/7`);
    await res.arrayBuffer();
    assert.equal(res.headers.get('deprecation'), `@${Date.parse('2026-01-01T00:00:00Z') / 1000}`);
    assert.equal(res.headers.get('sunset'), new Date('2031-01-01T00:00:00Z').toUTCString());
  });
});

test('the dates come from the highest minor whose contract carries any', async () => {
  await register('p1b', v1.url, '1.3.0', contract('1.3.0', {}));
  await register('p1c', v1.url, '1.4.0', contract('1.4.0', { 'x-deprecated': '2026-09-01' }));
  await eventually(async () => {
    const res = await fetch(`${portico.url}/v1/parcels/7`);
    await res.arrayBuffer();
    assert.equal(res.headers.get('deprecation'), `@${Date.parse('2026-09-01T00:00:00Z') / 1000}`);
    assert.equal(res.headers.get('sunset'), null);
  });
});
