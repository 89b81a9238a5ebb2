import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../dashboard/browser.ts';
import { startGrpcEcho, type GrpcEcho } from '../helpers/grpc-echo.ts';
import { startPortico, type PorticoProcess } from '../helpers/portico-process.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

interface PageOutcome {
  status: number;
  contentType: string | null;
  frames: { flag: number; text: string }[];
}

describe('gRPC-Web from a browser', () => {
  let echo: GrpcEcho;
  let site: TestUpstream;
  let portico: PorticoProcess;
  let browser: Browser;

  before(async () => {
    echo = await startGrpcEcho('browser-echo');
    site = await startUpstream('site');
    site.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>grpc-web</title>');
    };
    portico = await startPortico(
      ({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: info, accessLog: false }
services:
  echo: { protocol: h2c, instances: [{ url: "${echo.url}" }] }
  site: { instances: [{ url: "${site.url}" }] }
routes:
  - { name: echo, match: { path: /portico.test.Echo/** }, service: echo }
  - { name: site, match: { path: /** }, service: site }
`,
    );
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await portico?.stop();
    await site?.close();
    await echo?.close();
  });

  for (const text of [true, false]) {
    test(`the page's fetch gets a ${text ? 'text' : 'binary'} gRPC-Web answer with its status frame`, async () => {
      const page = await browser.newPage();
      try {
        await page.goto(`${portico.url}/index.html`);
        // Written in the page as a gRPC-Web client library would: frame, (base64,) fetch, read the frames back.
        const outcome = await page.evaluate(async (useText: boolean): Promise<PageOutcome> => {
          const message = new Uint8Array([0x0a, 7, ...new TextEncoder().encode('browser')]);
          const frame = new Uint8Array(5 + message.length);
          new DataView(frame.buffer).setUint32(1, message.length);
          frame.set(message, 5);
          const type = useText ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto';
          const res = await fetch('/portico.test.Echo/Unary', {
            method: 'POST',
            headers: { 'content-type': type, 'x-grpc-web': '1' },
            body: useText ? btoa(String.fromCharCode(...frame)) : frame,
          });
          let bytes = new Uint8Array(await res.arrayBuffer());
          if (useText) bytes = Uint8Array.from(atob(new TextDecoder().decode(bytes)), (c) => c.charCodeAt(0));
          const frames = [];
          for (let at = 0; at + 5 <= bytes.length;) {
            const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
            const payload = bytes.subarray(at + 5, at + 5 + length);
            frames.push({ flag: bytes[at] as number, text: new TextDecoder().decode(payload) });
            at += 5 + length;
          }
          return { status: res.status, contentType: res.headers.get('content-type'), frames };
        }, text);
        assert.equal(outcome.status, 200);
        assert.equal(
          outcome.contentType,
          text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto',
        );
        assert.equal(outcome.frames.length, 2);
        assert.match(outcome.frames[0]?.text ?? '', /browser[\s\S]*browser-echo/);
        assert.equal(outcome.frames[1]?.flag, 0x80);
        assert.match(outcome.frames[1]?.text ?? '', /grpc-status: 0\r\n/);
      } finally {
        await page.close();
      }
    });
  }
});
