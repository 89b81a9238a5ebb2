import { createRequire } from 'node:module';

// fastify and @fastify/http-proxy are installed by bench/package.json, not with Portico, so the root
// typecheck never sees their types: the few calls used here are typed by hand.
interface FastifyApp {
  register(plugin: unknown, options: object): PromiseLike<unknown>;
  listen(options: { port: number; host: string }): Promise<unknown>;
  close(): Promise<unknown>;
}
const require = createRequire(import.meta.url);
const Fastify = require('fastify') as (options: object) => FastifyApp;
const proxy: unknown = require('@fastify/http-proxy');

// @fastify/http-proxy with its defaults (reply-from on undici), as a user would set it up.
const port = Number(process.argv[2]);
const upstream = process.argv[3] ?? '';

const app = Fastify({ logger: false, keepAliveTimeout: 120_000 });
await app.register(proxy, { upstream, http2: false });
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().finally(() => process.exit(0)));
