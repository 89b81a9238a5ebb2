import { createServer } from 'node:http';
import { BODIES, PATHS } from './payloads.ts';

// The fallback upstream when nginx is missing: a child process answering the two fixed documents.
const port = Number(process.argv[2] ?? '0');
const small = Buffer.from(BODIES.small);
const large = Buffer.from(BODIES.large);

const server = createServer((req, res) => {
  const body =
    req.url === PATHS.large ? large : req.url === PATHS.small || req.url === PATHS.order ? small : undefined;
  if (body === undefined) {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
    return;
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
