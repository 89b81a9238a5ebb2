import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

// @fastify/http-proxy with its defaults (reply-from on undici), as a user would set it up.
const port = Number(process.argv[2]);
const upstream = process.argv[3] ?? '';

const app = Fastify({ logger: false, keepAliveTimeout: 120_000 });
await app.register(proxy, { upstream, http2: false });
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().finally(() => process.exit(0)));
