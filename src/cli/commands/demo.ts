import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startGateway } from '../../gateway/gateway.ts';
import { startSampleService, type SampleService } from '../../demo/sample-services.ts';
import { runUntilSignal } from './start.ts';

const help = `Usage: portico demo [--port 8080] [--admin-port 8081]

Starts sample services (users, orders, carts) and a gateway in front of them, prints
the commands to try, and runs until Ctrl-C.`;

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.PORTICO_DEMO_PORT ?? '8080' },
      'admin-port': { type: 'string', default: process.env.PORTICO_DEMO_ADMIN_PORT ?? '8081' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(help);
    return 0;
  }
  const services = await Promise.all([
    startSampleService('users', '1.4.0', 'users-1'),
    startSampleService('users', '2.1.0', 'users-2'),
    startSampleService('orders', '3.0.0', 'orders-1'),
    startSampleService('orders', '3.0.0', 'orders-2'),
    startSampleService('carts', '1.0.0', 'carts-1'),
    startSampleService('carts', '1.0.0', 'carts-2'),
  ]);
  const url = (i: number) => (services[i] as SampleService).url;
  const dir = await mkdtemp(join(tmpdir(), 'portico-demo-'));
  const configFile = join(dir, 'portico.yaml');
  await writeFile(
    configFile,
    `# Portico demo configuration (generated)
listen: 127.0.0.1:${values.port}
admin: { listen: 127.0.0.1:${values['admin-port']} }
logging: { level: info, accessLog: true }
services:
  users:
    instances:
      - { url: "${url(0)}", version: 1.4.0 }
      - { url: "${url(1)}", version: 2.1.0 }
    loadBalancer: round-robin
    healthCheck: { path: /healthz, interval: 2s, timeout: 500ms }
  orders:
    instances:
      - { url: "${url(2)}", version: 3.0.0, weight: 3 }
      - { url: "${url(3)}", version: 3.0.0, weight: 1 }
    loadBalancer: weighted
  carts:
    instances:
      - { url: "${url(4)}" }
      - { url: "${url(5)}" }
    loadBalancer: consistent-hash
    hashOn: header:x-user-id
routes:
  - { name: users, match: { path: "/users/**", methods: [GET, POST, PUT, DELETE] }, service: users }
  - { name: orders, match: { path: "/orders/**" }, service: orders, stripPrefix: /orders }
  - { name: carts, match: { path: "/carts/**" }, service: carts }
  - { name: status, match: { path: /status, methods: [GET] }, service: users, rewrite: /healthz }
`,
  );
  const gateway = await startGateway({ configFile, watchConfig: false });
  const base = `http://127.0.0.1:${gateway.address.port}`;
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  console.log(`
Portico demo is running.
  gateway  ${base}
  admin    ${admin}
  config   ${configFile}

Try:
  curl -s ${base}/users/42                      # round-robin over users v1 and v2
  curl -s ${base}/orders/7                      # weighted 3:1, /orders prefix stripped
  curl -s -H 'x-user-id: alice' ${base}/carts/  # consistent hash: alice always lands on the same cart instance
  curl -s ${base}/status                        # rewritten to /healthz
  curl -s ${base}/nope                          # 404 route_not_found as problem+json
  curl -s '${admin}/v1/routes/match?method=GET&path=/orders/../users/1'
  curl -s ${admin}/metrics | grep portico_http_requests_total

Press Ctrl-C to stop.
`);
  return runUntilSignal(gateway, async () => {
    await Promise.all(services.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });
}
