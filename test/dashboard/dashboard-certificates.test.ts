import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:https';
import { test } from 'node:test';
import { createCertificateFolder } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort, startPortico } from '../helpers/portico-process.ts';
import { launchChromium, screenshot } from './browser.ts';

const token = 'dashboard-certificates-token-0123456789';

test('the certificates panel lists file and ACME certificates with issuer, not-after and the last renewal error', async (t) => {
  const certs = createCertificateFolder();
  t.after(() => certs.remove());
  const ca = certs.createCa('Panel Test CA');
  const leaf = ca.issue('api.panel.test', { names: ['api.panel.test'] });
  const [plainPort, filePort, acmePort, closedPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  // The ACME directory answers 404: the order fails at once and its error is what the panel must show.
  const directoryCert = ca.issue('directory', { names: ['localhost'], san: ['IP:127.0.0.1'] });
  const directory = createServer({ cert: directoryCert.cert, key: directoryCert.key }, (_req, res) => {
    res.writeHead(404).end();
  });
  directory.listen(closedPort, '127.0.0.1');
  await once(directory, 'listening');
  t.after(() => new Promise<void>((resolve) => directory.close(() => resolve())));
  const portico = await startPortico(
    ({ adminPort }) => `
listen:
  - address: 127.0.0.1:${plainPort}
  - address: 127.0.0.1:${filePort}
    tls: { certificates: [{ cert: ${leaf.certFile}, key: ${leaf.keyFile} }] }
  - address: 127.0.0.1:${acmePort}
    tls:
      acme:
        directory: "https://127.0.0.1:${closedPort}/dir"
        directoryCa: ${ca.certFile}
        domains: [shop.panel.test]
        storage: ${certs.dir}/acme
admin: { listen: 127.0.0.1:${adminPort}, token: ${token} }
logging: { level: warn, accessLog: false }
`,
  );
  t.after(() => portico.stop('SIGKILL'));

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(portico.adminUrl);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.locator('#certificates').waitFor({ state: 'visible' });

  const fileRow = page.locator('#certificate-table tbody tr', { hasText: 'api.panel.test' });
  await fileRow.waitFor();
  const cells = await fileRow.locator('td').allTextContents();
  assert.equal(cells[0], `127.0.0.1:${filePort}`);
  assert.equal(cells[2], 'file');
  assert.match(String(cells[3]), /Panel Test CA/);
  assert.match(String(cells[4]), /^\d{4}-\d{2}-\d{2}$/);

  // The page polls every 5 s: the failed order shows once it has been tried.
  const acmeRow = page.locator(`#certificate-table tbody tr[data-key="127.0.0.1:${acmePort}"]`);
  await eventually(async () => {
    const acmeCells = await acmeRow.locator('td').allTextContents();
    assert.equal(acmeCells[2], 'acme');
    assert.match(String(acmeCells[5]), /last error: .*404/);
  }, 15_000);
  assert.equal(await acmeRow.locator('td.bad').count(), 1);
  await screenshot(page, 'certificates');
});
