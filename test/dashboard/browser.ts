import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const artifacts = resolve(import.meta.dirname, '..', '..', 'test-artifacts', 'dashboard');

/** Debian's chromium (installed by .ci/run when missing); Playwright's own browser downloads are never used. */
const chromiumPath = process.env.PORTICO_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with the background services that would reach the network turned off. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Saves a full-page screenshot as a test artefact (test-artifacts/ is gitignored). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}
