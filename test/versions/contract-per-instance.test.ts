import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let portico: PorticoProcess;
let older: TestUpstream;
let newer: TestUpstream;

/** 1.4 refuses unknown fields; 1.5 adds an optional `tags` list, and its answers always carry `tags`. */
const contract = (version: string, withTags: boolean) => ({
  openapi: '3.1.0',
  info: { title: 'notes', version },
  paths: {
    '/notes': {
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['text'],
                additionalProperties: false,
                properties: {
                  text: { type: 'string', minLength: 1 },
                  ...(withTags ? { tags: { type: 'array', items: { type: 'string' } } } : {}),
                },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'the note',
            content: {
              'application/json': {
                schema: { type: 'object', required: withTags ? ['upstream', 'tags'] : ['upstream'] },
              },
            },
          },
        },
      },
    },
  },
});

async function register(id: string, url: string, version: string, withTags: boolean): Promise<void> {
  const res = await fetch(`${portico.adminUrl}/v1/services/notes/instances/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, version, ttl: '60s', contract: contract(version, withTags) }),
  });
  assert.equal(res.status, 201, await res.text());
}

async function post(
  body: object,
  path = '/notes',
): Promise<{ status: number; version: string | null; code?: string }> {
  const res = await fetch(`${portico.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { code?: string };
  return { status: res.status, version: res.headers.get('portico-version'), code: answer.code };
}

before(async () => {
  [older, newer] = await Promise.all([startUpstream('notes-1.4'), startUpstream('notes-1.5')]);
  portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  notes: { loadBalancer: round-robin }
routes:
  - name: notes
    match: { path: /notes/** }
    service: notes
    version: { from: [header], default: "^1" }
    validate: request
  - name: checked
    match: { path: /checked/notes/** }
    service: notes
    stripPrefix: /checked
    version: { from: [header], default: "^1" }
    validate: request-and-response
`,
  );
  await register('n14', older.url, '1.4.0', false);
  await register('n15', newer.url, '1.5.0', true);
});

after(async () => {
  await portico?.stop();
  await Promise.all([older?.close(), newer?.close()]);
});

test('a request only the 1.5 contract accepts always reaches the 1.5 instance, never the 1.4 one', async () => {
  const servedBefore = older.requests.length;
  for (let i = 0; i < 12; i++) {
    const res = await post({ text: 'hello', tags: ['a'] });
    assert.deepEqual([res.status, res.version], [200, '1.5.0']);
  }
  assert.equal(older.requests.length, servedBefore, 'the 1.4 instance saw none of them');
});

test('a request both contracts accept is balanced over both versions', async () => {
  const seen = new Map<string, number>();
  for (let i = 0; i < 12; i++) {
    const res = await post({ text: 'hello' });
    assert.equal(res.status, 200);
    seen.set(String(res.version), (seen.get(String(res.version)) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), ['1.4.0', '1.5.0']);
  assert.equal(seen.get('1.4.0'), 6, 'round-robin over the two instances');
});

test('a request no contract of the chosen versions accepts is refused with validation_failed', async () => {
  const res = await post({ text: '', tags: ['a'] });
  assert.deepEqual([res.status, res.code], [400, 'validation_failed']);
});

test('an explicit 1.4 range still validates against 1.4 alone', async () => {
  const res = await fetch(`${portico.url}/notes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept-version': '~1.4' },
    body: JSON.stringify({ text: 'hello', tags: ['a'] }),
  });
  const answer = (await res.json()) as { code: string; errors: { path: string; message: string }[] };
  assert.equal(res.status, 400);
  assert.equal(answer.code, 'validation_failed');
  assert.deepEqual(
    answer.errors.map((error) => error.path),
    ['/tags'],
  );
});

test('answers are checked against the contract of the version that gave them', async () => {
  const violations = async (): Promise<number> => {
    const text = await (await fetch(`${portico.adminUrl}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('portico_contract_response_violations_total{route="checked"'));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };
  const versions: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await post({ text: 'hello' }, '/checked/notes');
    assert.equal(res.status, 200);
    versions.push(String(res.version));
  }
  // The echo never carries `tags`: only the answers of 1.5, whose contract promises it, break their contract.
  const fromNewer = versions.filter((version) => version === '1.5.0').length;
  assert.ok(fromNewer > 0 && fromNewer < 4, versions.join(','));
  await eventually(async () => assert.equal(await violations(), fromNewer));
});
