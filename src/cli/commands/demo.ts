import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../../gateway/gateway.ts';
import { createDemoCertificate } from '../../demo/demo-certificate.ts';
import { SAY_HELLO_PATH, writeGreeterProto } from '../../demo/greeter-service.ts';
import { startDemoServices } from '../../demo/sample-services.ts';
import { parseCommandArgs } from '../parse-command-args.ts';
import { runUntilSignal } from './start.ts';

const help = `Usage: portico demo [--port 8080] [--https-port 8443] [--admin-port 8081]

Starts a gateway and sample services that register themselves with the SDK (users v1 and v2, orders,
carts with a canary, a gRPC greeter), prints a demo JWT, an API key and the commands to try, and runs until Ctrl-C.
The gateway also serves HTTPS with a self-signed certificate made at start (trust it with curl --cacert).
`;

// Demo-only credentials: printed for the reader, never meant to protect anything.
const demoSecret = 'portico-demo-secret-not-for-production';
const demoApiKey = 'demo-key-123';

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An HS256 JWT for the demo consumer, valid for a day. */
function demoJwt(now = Math.floor(Date.now() / 1000)): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(
    JSON.stringify({ sub: 'demo-user', iss: 'portico-demo', iat: now, exp: now + 86_400 }),
  );
  const signature = createHmac('sha256', demoSecret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

export async function runDemo(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    {
      port: { type: 'string', default: process.env.PORTICO_DEMO_PORT ?? '8080' },
      'admin-port': { type: 'string', default: process.env.PORTICO_DEMO_ADMIN_PORT ?? '8081' },
      'https-port': { type: 'string', default: process.env.PORTICO_DEMO_HTTPS_PORT ?? '8443' },
      help: { type: 'boolean', short: 'h' },
    },
    help,
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const keyHash = `sha256:${createHash('sha256').update(demoApiKey).digest('hex')}`;
  // Each sample service registers with a token that may write only its own instances (docs/admin-api.md).
  const newToken = (): string => randomBytes(18).toString('base64url');
  const hashOf = (token: string): string => `sha256:${createHash('sha256').update(token).digest('hex')}`;
  const tokens = {
    admin: newToken(),
    read: newToken(),
    services: {
      users: newToken(),
      orders: newToken(),
      carts: newToken(),
      greeter: newToken(),
    } as Record<string, string>,
  };
  const tokenLines = [
    `  - { name: demo-admin, hash: "${hashOf(tokens.admin)}", role: admin }`,
    `  - { name: demo-reader, hash: "${hashOf(tokens.read)}", role: read }`,
    ...Object.entries(tokens.services).map(
      ([name, token]) => `  - { name: ${name}-service, hash: "${hashOf(token)}", role: "service:${name}" }`,
    ),
  ].join('\n');
  const dir = await mkdtemp(join(tmpdir(), 'portico-demo-'));
  const configFile = join(dir, 'portico.yaml');
  const certificate = await createDemoCertificate(dir);
  const greeterProto = await writeGreeterProto(dir);
  await writeFile(
    configFile,
    `# Portico demo configuration (generated). The services register themselves through the SDK.
listen:
  - address: 127.0.0.1:${values.port}
    http2: { enabled: true } # h2c with prior knowledge (gRPC) next to HTTP/1.1
  - address: 127.0.0.1:${values['https-port']}
    tls: { certificates: [{ cert: ${JSON.stringify(certificate.certFile)}, key: ${JSON.stringify(certificate.keyFile)} }] }
admin: { listen: 127.0.0.1:${values['admin-port']} }
tokens:
${tokenLines}
store: { path: ${JSON.stringify(join(dir, 'store'))} }
logging: { level: info, accessLog: true }
auth:
  jwt: { secret: ${demoSecret}, issuer: portico-demo, algorithms: [HS256] }
  apiKeys: { header: x-api-key }
consumers:
  - { id: demo-user, apiKeys: ["${keyHash}"] }
services:
  users:
    loadBalancer: round-robin
    versions:
      "1": { deprecated: "2026-01-01", sunset: "2027-06-30", link: "https://example.com/users-v2" }
  orders: { loadBalancer: least-request }
  carts: { loadBalancer: consistent-hash, hashOn: "header:x-user-id" }
  greeter: {} # a gRPC server: its instance registers with protocol grpc, so the gateway speaks h2c to it
routes:
  - name: users
    match: { path: "/users/**", methods: [GET, POST, PUT, DELETE] }
    service: users
    version: { from: [path, header], default: "^2" }
  - name: orders
    match: { path: "/orders/**" }
    service: orders
    auth: [jwt, apiKey]
    rateLimit: { limit: 5, window: 10s, by: consumer }
  - name: carts
    match: { path: "/carts/**" }
    service: carts
    split: { "1": 90, "2": 10 }
  - { name: status, match: { path: /status, methods: [GET] }, service: users, rewrite: /healthz }
  - name: greeter
    match: { path: "/portico.demo.v1.Greeter/**" }
    service: greeter
    rateLimit: { limit: 20, window: 10s, by: ip }
aggregates:
  - name: dashboard
    match: { path: "/dashboard/{userId}", methods: [GET] }
    calls:
      user: { service: users, path: "/users/{userId}" }
      orders: { service: orders, path: "/orders?user={userId}", optional: true }
      cart: { service: carts, path: "/carts/{user.cartId}", after: user, optional: true }
`,
  );
  const gateway = await startGateway({ configFile, watchConfig: false });
  const base = `http://127.0.0.1:${gateway.address.port}`;
  const secure = `https://127.0.0.1:${gateway.addresses[1]?.port ?? values['https-port']}`;
  const admin = `http://127.0.0.1:${gateway.adminAddress.port}`;
  let services: Awaited<ReturnType<typeof startDemoServices>>;
  try {
    services = await startDemoServices(admin, tokens);
    await waitUntilRoutable(`${base}/status`);
  } catch (err) {
    await gateway.shutdown();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const jwt = demoJwt();
  const hello = Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, ...Buffer.from('you')]).toString('base64');
  const greeterLines = services.services.some((s) => s.name === 'greeter')
    ? `
  grpcurl -plaintext -proto ${greeterProto} -d '{"name":"you"}' 127.0.0.1:${gateway.address.port} portico.demo.v1.Greeter/SayHello   # gRPC (h2c) through the gateway
  curl -s -H 'content-type: application/grpc-web-text' -d ${hello} ${base}${SAY_HELLO_PATH} | base64 -d | tr -c '[:print:]' ' '; echo   # the same call as gRPC-Web from curl`
    : `
  (gRPC greeter not started: install @grpc/grpc-js to try gRPC through the gateway)`;
  console.log(`
Portico demo is running.
  gateway  ${base}  and  ${secure} (certificate ${certificate.certFile}, made at start)
  admin    ${admin}
  config   ${configFile}
  services ${services.services.map((s) => `${s.name}@${s.version}`).join(', ')} (registered through the SDK)
  tokens   admin ${tokens.admin}  read ${tokens.read} (each service registers with its own service token)

Demo credentials:
  API key  ${demoApiKey}
  JWT      ${jwt}

Try:
  curl -s ${base}/users/42                      # users v2 (the route's default version)
  curl -s -i ${base}/v1/users/42                # users v1: answers carry Deprecation and Sunset
  curl -s -H 'accept-version: ^1' ${base}/users/42   # the version from a header
  curl -s ${base}/orders/7                      # 401: orders needs a JWT or an API key
  curl -s -H 'x-api-key: ${demoApiKey}' ${base}/orders/7   # orders calls users through the SDK client
  curl -s -H 'authorization: Bearer ${jwt}' ${base}/orders/7
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' -H 'x-api-key: ${demoApiKey}' ${base}/orders/7; done; echo   # 429 after 5 in 10 s
  curl -s -H 'x-user-id: alice' ${base}/carts/  # canary: 90% of users on carts v1, 10% on v2; alice always lands on the same instance
  curl -s ${base}/dashboard/42                  # aggregate: user, orders and cart in one answer
  curl -s ${base}/status                        # rewritten to /healthz
  curl -s --cacert ${certificate.certFile} ${secure}/users/42   # the same over HTTPS, trusting the demo's certificate
  curl -s ${base}/nope                          # 404 route_not_found as problem+json${greeterLines}
  curl -s -H 'authorization: Bearer ${tokens.read}' ${admin}/v1/services   # the registry: services, versions, instances
  curl -s -H 'authorization: Bearer ${tokens.read}' '${admin}/v1/routes/match?method=GET&path=/orders/../users/1'
  curl -s -H 'authorization: Bearer ${tokens.read}' ${admin}/metrics | grep portico_http_requests_total

Press Ctrl-C to stop.
`);
  return runUntilSignal(gateway, async () => {
    await services.close();
    await rm(dir, { recursive: true, force: true });
  });
}

/** The registry feeds the gateway within milliseconds; the banner waits for it so the first curl works. */
async function waitUntilRoutable(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the demo services did not become routable at ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
