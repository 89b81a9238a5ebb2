/**
 * The floor of the HTTP/2 bench, in a process of its own so that its CPU time is measured apart from the upstream
 * and the load generator: the least an HTTP/2 proxy in Node does (node:http2 server, one undici pool, the answer
 * streamed through). Prints its port on stdout.
 *
 *   node bench/h2/h2-floor.ts <upstream origin>
 */
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstreamUrl = process.argv[2];
if (upstreamUrl === undefined) throw new Error('usage: h2-floor.ts <upstream origin>');
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
floor.listen(0, '127.0.0.1', () => console.log((floor.address() as AddressInfo).port));
// An orderly exit, so that `--cpu-prof` writes its profile.
process.once('SIGTERM', () => process.exit(0));
