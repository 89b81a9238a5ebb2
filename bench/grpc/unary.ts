/**
 * Standalone gRPC run (not part of `npm run bench`): unary calls/s to one @grpc/grpc-js server, straight,
 * through Portico's h2c listener, through a minimal node:http2 proxy (the floor: one multiplexed
 * ClientHttp2Session to the server, streams piped, trailers copied, no routing or policies), and through a
 * minimal proxy on Portico's own stack (node:http2 compatibility API, an undici h2c Pool, `dispatch`), with the
 * same client (h2load from Debian's nghttp2-client, sending gRPC frames) in the same run. The proxies are
 * pinned to CPU 0; the grpc-js server and h2load share CPU 1, in every case. Prints calls/s, mean latency
 * and the ratios; every counted call is checked against the calls the server answered.
 *
 *   node bench/grpc/unary.ts [--calls 20000] [--clients 10] [--streams 10] [--rounds 3]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { EchoService, startGrpcEcho, type EchoClient, type Msg } from '../../test/helpers/grpc-echo.ts';
import { freePort, startPortico } from '../../test/helpers/portico-process.ts';
import { numberArg } from '../lib/number-arg.ts';

const run = promisify(execFile);
const calls = numberArg('calls', 20_000);
const clients = numberArg('clients', 10);
const streams = numberArg('streams', 10);
const rounds = numberArg('rounds', 3);
const pinned = cpus().length >= 2;

/** Pins a running process to one CPU (Linux taskset); a no-op on one-CPU machines. */
async function pin(pid: number, cpu: number): Promise<void> {
  if (pinned) await run('taskset', ['-pc', String(cpu), String(pid)]);
}

// This process runs the grpc-js server; h2load runs beside it on the same CPU.
await pin(process.pid, 1);
const echo = await startGrpcEcho('bench');
const h2cPort = await freePort();
const portico = await startPortico(
  ({ port, adminPort }) => `
listen:
  - { address: 127.0.0.1:${port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true, maxConcurrentStreams: 100 } }
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  echo: { protocol: h2c, instances: [{ url: "${echo.url}" }] }
routes:
  - { name: echo, match: { path: /portico.test.Echo/** }, service: echo }
`,
);
await pin(portico.child.pid as number, 0);

/** The floor, in a child process pinned beside Portico: what Node's http2 alone costs a gRPC proxy. */
const floorSource = `
const { connect, createServer } = require('node:http2');
const upstream = connect(process.argv[1]);
const server = createServer();
server.on('stream', (stream, headers) => {
  const out = {};
  for (const name in headers) if (name[0] !== ':' || name === ':path' || name === ':method') out[name] = headers[name];
  const call = upstream.request(out);
  stream.pipe(call);
  call.on('response', (head) => {
    const answer = {};
    for (const name in head) if (name[0] !== ':' || name === ':status') answer[name] = head[name];
    stream.respond(answer, { waitForTrailers: true });
    call.pipe(stream);
  });
  call.on('trailers', (trailers) => (stream.trailersToSend = trailers));
  stream.on('wantTrailers', () => stream.sendTrailers(stream.trailersToSend || {}));
  call.on('error', () => stream.destroy());
  stream.on('error', () => call.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** The same minimal proxy on Portico's stack: what undici and the compatibility API cost before Portico's code. */
const undiciSource = `
const { createServer } = require('node:http2');
const { Pool } = require('undici');
const pool = new Pool(process.argv[1], { allowH2: true, connect: { useH2c: true } });
const text = (raw) => { const out = {}; for (let i = 0; i < raw.length; i += 2) out[raw[i].toString()] = raw[i + 1].toString(); return out; };
createServer((req, res) => {
  const headers = {};
  for (const name in req.headers) if (name[0] !== ':') headers[name] = req.headers[name];
  pool.dispatch({ path: req.url, method: 'POST', headers, body: req }, {
    onConnect() {},
    onHeaders(status, raw) { res.writeHead(status, text(raw)); return true; },
    onData(chunk) { return res.write(chunk); },
    onComplete(trailers) { if (trailers) res.addTrailers(Array.isArray(trailers) ? text(trailers) : trailers); res.end(); },
    onError() { res.destroy(); },
  });
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

/** Starts a proxy script in a child process pinned to CPU 0; resolves with it and its port. */
async function startProxy(source: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', source, echo.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
  );
  await pin(child.pid as number, 0);
  return { child, port };
}
const floor = await startProxy(floorSource);
const undiciProxy = await startProxy(undiciSource);
const floorPort = floor.port;
const undiciPort = undiciProxy.port;

const dir = await mkdtemp(join(tmpdir(), 'portico-grpc-bench-'));
// One gRPC frame: uncompressed, 7 bytes, Msg { text: "hello" }.
const bodyFile = join(dir, 'unary.bin');
await writeFile(bodyFile, Buffer.from([0, 0, 0, 0, 7, 0x0a, 5, ...Buffer.from('hello')]));

interface Outcome {
  callsPerS: number;
  meanMs: number;
  succeeded: number;
  answered: number;
}

async function h2load(port: number): Promise<Outcome> {
  const before = echo.calls.length;
  const { stdout } = await run('taskset', [
    ...(pinned ? ['-c', '1'] : ['-c', '0']),
    'h2load',
    '-n',
    String(calls),
    '-c',
    String(clients),
    '-m',
    String(streams),
    '-d',
    bodyFile,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    `http://127.0.0.1:${port}/portico.test.Echo/Unary`,
  ]);
  const callsPerS = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? 0);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(stdout)?.[1] ?? '0us';
  const meanMs = mean.endsWith('ms') ? Number(mean.slice(0, -2)) : Number(mean.slice(0, -2)) / 1000;
  const succeeded = Number(/(\d+) succeeded/.exec(stdout)?.[1] ?? 0);
  return { callsPerS, meanMs, succeeded, answered: echo.calls.length - before };
}

/** One call with a grpc-js client, so a broken path fails the run instead of measuring errors fast. */
async function check(port: number): Promise<void> {
  const client = new EchoService(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as EchoClient;
  try {
    const answer = await new Promise<Msg | undefined>((resolve, reject) =>
      client.Unary({ text: 'check' }, new grpc.Metadata(), {}, (err, msg) =>
        err === null ? resolve(msg) : reject(err),
      ),
    );
    if (answer?.text !== 'check') throw new Error(`unexpected answer on port ${port}`);
  } finally {
    client.close();
  }
}

try {
  await check(echo.port);
  await check(h2cPort);
  await check(floorPort);
  await check(undiciPort);
  // Warm each up, then alternate measured rounds.
  for (const port of [echo.port, h2cPort, floorPort, undiciPort]) await h2load(port);
  const direct: Outcome[] = [];
  const viaPortico: Outcome[] = [];
  const viaFloor: Outcome[] = [];
  const viaUndici: Outcome[] = [];
  for (let round = 0; round < rounds; round++) {
    direct.push(await h2load(echo.port));
    viaPortico.push(await h2load(h2cPort));
    viaFloor.push(await h2load(floorPort));
    viaUndici.push(await h2load(undiciPort));
  }
  const line = (label: string, runs: Outcome[]): string =>
    `${label}: ${runs.map((r) => r.callsPerS.toFixed(0)).join(' / ')} calls/s, mean ${runs
      .map((r) => r.meanMs.toFixed(2))
      .join(' / ')} ms, answered ${runs.map((r) => `${r.answered}/${r.succeeded}`).join(' / ')}`;
  const median = (runs: Outcome[]): number => {
    const sorted = runs.map((r) => r.callsPerS).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  };
  console.log(
    `h2load -n ${calls} -c ${clients} -m ${streams}, gRPC unary (7-byte message), ${rounds} alternated rounds` +
      (pinned ? '; proxies on CPU 0, grpc-js server and h2load on CPU 1' : '; one CPU, not pinned'),
  );
  console.log(line('direct           ', direct));
  console.log(line('portico          ', viaPortico));
  console.log(line('node:http2 floor ', viaFloor));
  console.log(line('undici proxy     ', viaUndici));
  console.log(`ratio portico / direct (medians): ${(median(viaPortico) / median(direct)).toFixed(2)}`);
  console.log(`ratio floor / direct (medians):   ${(median(viaFloor) / median(direct)).toFixed(2)}`);
  console.log(`ratio portico / floor (medians):  ${(median(viaPortico) / median(viaFloor)).toFixed(2)}`);
  console.log(`ratio undici proxy / direct:      ${(median(viaUndici) / median(direct)).toFixed(2)}`);
  console.log(`ratio portico / undici proxy:     ${(median(viaPortico) / median(viaUndici)).toFixed(2)}`);
} finally {
  await portico.stop();
  floor.child.kill();
  undiciProxy.child.kill();
  await echo.close();
  await rm(dir, { recursive: true, force: true });
}
