/**
 * Standalone TLS run (not part of `npm run bench`): keep-alive HTTPS req/s with h2load over HTTP/1.1, and new
 * TLS handshakes per second with `openssl s_time -new`, against Portico's TLS listener, a Node TLS floor
 * (node:https server streaming through one undici pool) and nginx (`listen ssl`) with the same certificate, all
 * in front of the same node:http upstream. Prints each figure and the ratios to the floor.
 *
 *   node bench/tls/https.ts [--requests 20000] [--clients 20] [--seconds 5]
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { freePort, startPortico } from '../../test/helpers/portico-process.ts';
import { nginxArgs, nginxAvailable, writeProxyConfig } from '../lib/nginx.ts';
import { numberArg } from '../lib/number-arg.ts';
import { BODIES } from '../lib/payloads.ts';

const run = promisify(execFile);
const requests = numberArg('requests', 20_000);
const clients = numberArg('clients', 20);
const seconds = numberArg('seconds', 5);

const dir = await mkdtemp(join(tmpdir(), 'portico-tls-bench-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
// One P-256 certificate for every contender, as a real edge would serve.
await run('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  '-keyout', keyFile, '-out', certFile,
]); // prettier-ignore
const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);

const upstream = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODIES.small.length });
  res.end(BODIES.small);
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

// The floor: TLS termination in node:https and the least a proxy does, streaming through one undici pool.
const pool = new Pool(upstreamUrl, { connections: 64 });
const floor = createHttpsServer({ cert, key }, (req, res) => {
  pool.request({ path: req.url ?? '/', method: 'GET' }).then(
    (answer) => {
      res.writeHead(answer.statusCode, { 'content-type': 'application/json' });
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

const tlsPort = await freePort();
const portico = await startPortico(
  ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - address: 127.0.0.1:${tlsPort}
    tls: { certificates: [{ cert: ${certFile}, key: ${keyFile} }] }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  bench: { instances: [{ url: "${upstreamUrl}" }] }
routes:
  - { name: bench, match: { path: /** }, service: bench }
`,
);

let nginxPort: number | undefined;
let nginx: ReturnType<typeof spawn> | undefined;
if (nginxAvailable()) {
  nginxPort = await freePort();
  const nginxDir = join(dir, 'nginx');
  const conf = await writeProxyConfig(nginxDir, nginxPort, upstreamUrl);
  const text = await readFile(conf, 'utf8');
  await writeFile(
    conf,
    text.replace(
      `listen 127.0.0.1:${nginxPort} backlog=16384;`,
      `listen 127.0.0.1:${nginxPort} ssl backlog=16384;\n    ssl_certificate ${certFile};\n    ssl_certificate_key ${keyFile};`,
    ),
  );
  nginx = spawn('nginx', nginxArgs(nginxDir, conf), { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 500));
}

interface Figures {
  requestsPerSecond: number;
  meanMs: number;
  handshakesPerSecond: number;
}

async function measure(port: number): Promise<Figures> {
  const url = `https://127.0.0.1:${port}/small`;
  // Warm-up, then the measured run; h2load speaks HTTP/1.1 with --h1.
  await run('h2load', ['--h1', '-n', String(Math.min(2000, requests)), '-c', String(clients), url]);
  const { stdout } = await run('h2load', ['--h1', '-n', String(requests), '-c', String(clients), url]);
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout);
  const failed = /requests: .*?(\d+) failed/.exec(stdout);
  if (failed !== null && Number(failed[1]) > 0)
    throw new Error(`h2load: ${failed[1]} requests failed on ${url}`);
  // New full handshakes only (-new: no session resumption), for `seconds`.
  const handshakes = await run('openssl', [
    's_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds),
  ]); // prettier-ignore
  const done = /(\d+) connections in ([\d.]+)s;/.exec(handshakes.stdout);
  return {
    requestsPerSecond: Number(rps?.[1] ?? 0),
    meanMs: toMs(mean?.[1] ?? '0'),
    handshakesPerSecond: done === null ? 0 : Number(done[1]) / Number(done[2]),
  };
}

function toMs(text: string): number {
  const value = Number.parseFloat(text);
  if (text.endsWith('us')) return value / 1000;
  if (text.endsWith('ms')) return value;
  return value * 1000;
}

try {
  const floorFigures = await measure(floorPort);
  const porticoFigures = await measure(tlsPort);
  const nginxFigures = nginxPort === undefined ? undefined : await measure(nginxPort);
  const line = (name: string, f: Figures): string =>
    `${name.padEnd(12)} ${f.requestsPerSecond.toFixed(0).padStart(8)} req/s  mean ${f.meanMs.toFixed(2)} ms  ` +
    `${f.handshakesPerSecond.toFixed(0).padStart(6)} handshakes/s`;
  console.log(`keep-alive HTTPS (HTTP/1.1, ${clients} connections, ${requests} requests) and new handshakes`);
  console.log(line('node floor', floorFigures));
  console.log(line('portico', porticoFigures));
  if (nginxFigures !== undefined) console.log(line('nginx', nginxFigures));
  console.log(
    `portico / floor: req/s ${(porticoFigures.requestsPerSecond / floorFigures.requestsPerSecond).toFixed(2)}x ` +
      `(target 0.95x), handshakes/s ${(porticoFigures.handshakesPerSecond / floorFigures.handshakesPerSecond).toFixed(2)}x (target 0.9x)`,
  );
} finally {
  nginx?.kill('SIGTERM');
  await portico.stop();
  await pool.close();
  floor.close();
  upstream.close();
  await rm(dir, { recursive: true, force: true });
}
