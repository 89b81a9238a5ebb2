/**
 * Standalone HTTP/2 run (not part of `npm run bench`): h2load (Debian's nghttp2-client) against Portico's h2c
 * listener and against a minimal Node HTTP/2 proxy (node:http2 server, undici pool), both in front of the
 * same node:http upstream. Prints req/s and mean latency of each and the ratio Portico / floor.
 *
 *   node bench/h2/h2load.ts [--requests 20000] [--clients 10] [--streams 10]
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { freePort, startPortico } from '../../test/helpers/portico-process.ts';

const run = promisify(execFile);
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const requests = arg('requests', 20_000);
const clients = arg('clients', 10);
const streams = arg('streams', 10);

const upstream = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  res.end('ok');
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

// The floor: the least an HTTP/2 proxy in Node does, streaming the answer through one undici pool.
const pool = new Pool(upstreamUrl, { connections: 64 });
const floor = createHttp2Server((req, res) => {
  pool.request({ path: req.url, method: 'GET' }).then(
    (answer) => {
      res.writeHead(answer.statusCode, { 'content-type': 'text/plain' });
      answer.body.pipe(res);
    },
    () => {
      res.writeHead(502);
      res.end();
    },
  );
});
await new Promise<void>((resolve) => floor.listen(0, '127.0.0.1', resolve));
const floorPort = (floor.address() as AddressInfo).port;

const h2cPort = await freePort();
const portico = await startPortico(
  ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true, maxConcurrentStreams: 100 } }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  up: { instances: [{ url: "${upstreamUrl}" }] }
routes:
  - { name: all, match: { path: /** }, service: up }
`,
);

interface Outcome {
  reqPerS: number;
  meanMs: number;
  failed: number;
}

async function h2load(port: number): Promise<Outcome> {
  const { stdout } = await run('h2load', [
    '-n',
    String(requests),
    '-c',
    String(clients),
    '-m',
    String(streams),
    `http://127.0.0.1:${port}/bench`,
  ]);
  const reqPerS = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? 0);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1] ?? '0us';
  const meanMs = mean.endsWith('ms') ? Number(mean.slice(0, -2)) : Number(mean.slice(0, -2)) / 1000;
  const failed = Number(/(\d+) failed/.exec(stdout)?.[1] ?? 0);
  return { reqPerS, meanMs, failed };
}

try {
  // Warm both up, then alternate two measured rounds each.
  await h2load(floorPort);
  await h2load(h2cPort);
  const floorRuns: Outcome[] = [];
  const porticoRuns: Outcome[] = [];
  for (let round = 0; round < 2; round++) {
    floorRuns.push(await h2load(floorPort));
    porticoRuns.push(await h2load(h2cPort));
  }
  const best = (runs: Outcome[]): Outcome => runs.reduce((a, b) => (b.reqPerS > a.reqPerS ? b : a));
  const f = best(floorRuns);
  const p = best(porticoRuns);
  console.log(`h2load -n ${requests} -c ${clients} -m ${streams} (h2c), best of 2 rounds`);
  console.log(
    `node http2 floor : ${f.reqPerS.toFixed(0)} req/s, mean ${f.meanMs.toFixed(2)} ms, ${f.failed} failed`,
  );
  console.log(
    `portico (h2c)    : ${p.reqPerS.toFixed(0)} req/s, mean ${p.meanMs.toFixed(2)} ms, ${p.failed} failed`,
  );
  console.log(`ratio portico / floor: ${(p.reqPerS / f.reqPerS).toFixed(2)}`);
} finally {
  await portico.stop();
  floor.close();
  upstream.close();
  await pool.close();
}
