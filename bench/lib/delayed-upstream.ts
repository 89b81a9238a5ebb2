import { createServer } from 'node:http';
import { BODIES } from './payloads.ts';

// An upstream that answers the small JSON document to any request after a fixed delay, standing in for a
// service that does some work: node:http with a timer, run as a child process like every support process.
const port = Number(process.argv[2] ?? '0');
const delayMs = Number(process.argv[3] ?? '5');
const body = Buffer.from(BODIES.small);
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };

const server = createServer((req, res) => {
  req.resume();
  setTimeout(() => {
    res.writeHead(200, headers);
    res.end(body);
  }, delayMs);
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
