import { request } from 'undici';
import { startPortico } from '/work/main/test/helpers/portico-process.ts';
import { startRedisServer } from '/work/main/test/helpers/redis-server.ts';
import { startUpstream } from '/work/main/test/helpers/upstream.ts';
const log = (...a: unknown[]) => console.log(new Date().toISOString().slice(14, 23), ...a);
const redis = await startRedisServer();
log('redis', redis.url);
const upstream = await startUpstream('svc');
const portico = await startPortico(({ port, adminPort }) => `
listen: 127.0.0.1:${port}
admin: { listen: 127.0.0.1:${adminPort} }
store: { kind: redis, url: "${redis.url}", prefix: "p:" }
logging: { level: info, accessLog: false }
services:
  svc: { instances: [{ url: "${upstream.url}" }] }
routes:
  - name: open-on-failure
    match: { path: /open/** }
    service: svc
    rateLimit: { limit: 2, window: 1h, by: global, onStoreFailure: open }
  - name: closed-on-failure
    match: { path: /closed/** }
    service: svc
    rateLimit: { limit: 2, window: 1h, by: global, onStoreFailure: closed }
`);
log('portico up');
{ const r = await request(`${portico.url}/closed/warmup`); log('w', r.statusCode); }
for (let i = 0; i < 3; i++) { const r = await request(`${portico.url}/open/x`); log('status', r.statusCode, await r.body.text()); }
await redis.stop({ keepData: true });
log('redis stopped');
{ const r = await request(`${portico.url}/open/x`); log('open status', r.statusCode, await r.body.text()); }
const r = await request(`${portico.url}/closed/x`); log('status', r.statusCode, await r.body.text());
await redis.start();
log('redis started');
for (let i = 0; i < 5; i++) { const r = await request(`${portico.url}/closed/x`); log('status', r.statusCode, await r.body.text()); await new Promise(r => setTimeout(r, 300)); }
log('stopping');
await portico.stop(); log('portico stopped');
await upstream.close(); await redis.stop(); log('done');
console.log(portico.output().slice(-3000));
