import autocannon from 'autocannon';
import { createServer } from 'node:http';
import { startPortico } from '../test/helpers/portico-process.ts';
import { hsToken, jwtSecret, issuer, audience } from '../test/security/helpers.ts';
const up = createServer((req, res) => { req.resume(); req.on('end', () => res.end('{"ok":true}')); });
await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
const upPort = (up.address() as { port: number }).port;
const p = await startPortico(({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
logging: { level: warn, accessLog: false }
services:
  svc: { instances: [{ url: "http://127.0.0.1:${upPort}" }] }
auth:
  jwt: { issuer: "${issuer}", audience: ${audience}, secret: ${jwtSecret}, algorithms: [HS256] }
routes:
  - { name: plain, match: { path: /plain/** }, service: svc }
  - { name: secure, match: { path: /secure/** }, service: svc, auth: [jwt], scopes: [users:read], rateLimit: { limit: 100000000, window: 1s, by: consumer } }
`);
const token = await hsToken({}, { expiresIn: 600 });
async function run(path: string, headers: Record<string, string>) {
  const r = await autocannon({ url: p.url + path, connections: 50, duration: 5, headers });
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx };
}
await run('/plain/x', {});
const plain = await run('/plain/x', {});
const secure = await run('/secure/x', { authorization: `Bearer ${token}` });
console.log({ plain, secure, ratio: secure.rps / plain.rps });
await p.stop(); up.close();
