import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../helpers/eventually.ts';
import { startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';
import { keyHash } from '../security/helpers.ts';
import { launchChromium, screenshot } from './browser.ts';

const token = 'dashboard-panels-token-0123456789';
const appKey = 'panels-app-key-0123456789';

test('the dashboard shows version usage and pins, moves a pin, and shows the cache hit ratio per route', async (t) => {
  const [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  t.after(() => Promise.all([v1.close(), v2.close()]));
  v1.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end('{"v":1}');
  };
  const portico = await startPortico(
    ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort}, token: ${token} }
logging: { level: warn, accessLog: false }
auth: { apiKeys: { header: x-api-key } }
consumers:
  - { id: shop-app, apiKeys: ["${keyHash(appKey)}"] }
services:
  users:
    instances:
      - { url: "${v1.url}", version: 1.2.0 }
      - { url: "${v2.url}", version: 2.0.0 }
  pages: { instances: [{ url: "${v1.url}" }] }
routes:
  - name: users
    match: { path: /users/** }
    service: users
    auth: [apiKey]
    version: { from: [header], default: "1", pin: true }
  - name: pages
    match: { path: /pages/** }
    service: pages
    cache: { ttl: 60s }
`,
  );
  t.after(() => portico.stop('SIGKILL'));
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${portico.url}/users/${i}`, { headers: { 'x-api-key': appKey } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  // One miss, then three hits: 75 %.
  for (let i = 0; i < 4; i++) await (await fetch(`${portico.url}/pages/home`)).arrayBuffer();

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(portico.adminUrl);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.locator('#main').waitFor({ state: 'visible' });

  // Locators wait for the rows the page renders after its first poll.
  await page.locator('#route-table tbody tr[data-key="pages"]', { hasText: 'cache 60s' }).waitFor();
  await page
    .locator('#route-table tbody tr[data-key="users"]', {
      hasText: 'consumers pinned to their first version',
    })
    .waitFor();
  const cacheRow = page.locator('#cache-table tbody tr[data-key="pages"]');
  await cacheRow.waitFor({ timeout: 5000 });
  const cacheCells = await cacheRow.locator('td').allTextContents();
  assert.deepEqual(cacheCells.slice(0, 5), ['pages', '75.0%', '3', '0', '1']);

  await page.locator('#service-table tbody tr[data-key="users"]').click();
  const v1Row = page.locator('#usage-table tbody tr[data-key="1"]');
  await v1Row.waitFor({ timeout: 10_000 });
  await eventually(async () => {
    const cells = await v1Row.locator('td').allTextContents();
    assert.deepEqual([cells[0], cells[1], cells[2], cells[3], cells[5]], ['v1', '3', '1', 'shop-app', '1']);
  }, 10_000);
  const pinRow = page.locator('#pin-table tbody tr[data-key="shop-app"]');
  assert.equal(await pinRow.locator('td').nth(1).textContent(), 'v1');

  // The operator moves the consumer to v2 from the page; the next call is served by v2.
  await page.fill('#pin-consumer', 'shop-app');
  await page.fill('#pin-major', '2');
  await page.click('#pin-form button[type=submit]');
  await page.locator('#pin-result', { hasText: 'shop-app pinned to 2' }).waitFor();
  await eventually(async () => assert.equal(await pinRow.locator('td').nth(1).textContent(), 'v2'));
  const res = await fetch(`${portico.url}/users/9`, { headers: { 'x-api-key': appKey } });
  await res.arrayBuffer();
  assert.equal(res.headers.get('portico-version'), '2.0.0; pinned=2');
  await screenshot(page, 'versions-and-cache');
});
