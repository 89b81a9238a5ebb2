import { createRequire } from 'node:module';

// fast-gateway 3.4.7 (restana + fast-proxy-lite on undici) with one catch-all route, as its README sets it up.
// It is CommonJS without ESM types, hence the require.
const require = createRequire(import.meta.url);
const gateway = require('fast-gateway') as (options: object) => {
  start(port: number, host: string): Promise<unknown>;
  close(): Promise<unknown>;
};

const port = Number(process.argv[2]);
const upstream = process.argv[3] ?? '';

// An empty prefix keeps the path as sent: fast-gateway replaces the prefix with `prefixRewrite` ('').
const server = gateway({ routes: [{ prefix: '', target: upstream }] });
await server.start(port, '127.0.0.1');
process.on('SIGTERM', () => void server.close().finally(() => process.exit(0)));
