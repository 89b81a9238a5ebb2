import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/portico-process.ts';

const main = resolve(import.meta.dirname, '../../src/cli/main.ts');

function sh(command: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command]);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('close', (code) =>
      code === 0 ? resolveRun(stdout) : reject(new Error(`${command} exited ${code}`)),
    );
  });
}

test('portico demo runs SDK services and every printed command gives the answer its comment promises', async (t) => {
  const port = await freePort();
  const adminPort = await freePort();
  const httpsPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      main,
      'demo',
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      '--https-port',
      String(httpsPort),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(() => assert.match(output, /Press Ctrl-C/), 20_000, 50);

  const commands = output
    .split('\n')
    .filter((line) => /^ {2}(curl|for) /.test(line))
    .map((line) => line.trim());
  const run = async (fragment: string): Promise<string> => {
    const command = commands.find((c) => c.includes(fragment));
    assert.ok(command, `a command with ${fragment} in:\n${output}`);
    return sh(command);
  };
  const json = async (fragment: string) => JSON.parse(await run(fragment));

  assert.match(
    output,
    /services users@1\.4\.0, users@2\.1\.0, orders@3\.0\.0, orders@3\.0\.0, carts@1\.0\.0/,
  );
  assert.equal((await json(`${port}/users/42 `)).version, '2.1.0');
  const v1 = await run('/v1/users/42');
  assert.match(v1, /^deprecation: @\d+/im);
  assert.match(v1, /^sunset: .*2027/im);
  assert.equal((await json('accept-version')).version, '1.4.0');
  assert.equal((await json(`-s ${`http://127.0.0.1:${port}`}/orders/7`)).code, 'unauthorized');
  const order = await json("x-api-key: demo-key-123' http");
  assert.match(order.owner.answeredBy, /^users-2-/, 'orders called users ^2 through the SDK client');
  assert.equal((await json('authorization: Bearer')).service, 'orders');
  assert.match(await run('for i in'), /429 \n$/);
  const carts = await Promise.all([1, 2, 3].map(() => json('x-user-id: alice')));
  assert.equal(new Set(carts.map((c) => c.instance)).size, 1);
  const dashboard = await json('/dashboard/42');
  assert.deepEqual(Object.keys(dashboard).sort(), ['cart', 'orders', 'user']);
  assert.equal(dashboard.cart.path, '/carts/c-42');
  assert.equal((await json('/status')).status, 'ok');
  // HTTPS with the certificate made at start: curl verifies it against the printed --cacert file.
  const secure = await json(`https://127.0.0.1:${httpsPort}/users/42`);
  assert.equal(secure.version, '2.1.0');
  assert.match(await run('--cacert'), /"version":"2\.1\.0"/);
  assert.equal((await json('/nope')).code, 'route_not_found');
  const registry = await json('/v1/services ');
  assert.deepEqual(registry.services.map((s: { name: string }) => s.name).sort(), [
    'carts',
    'greeter',
    'orders',
    'users',
  ]);
  // The gRPC greeter: the printed gRPC-Web curl line, and a grpc-js client with the printed .proto (what the
  // grpcurl line does; grpcurl itself is not installed here).
  assert.match(await run('grpc-web-text'), /Hello, you! +greeter-1-1 .*grpc-status: 0/);
  const grpcurl =
    /^ {2}grpcurl -plaintext -proto (\S+) -d '\{"name":"you"\}' (\S+) portico\.demo\.v1\.Greeter\/SayHello/m.exec(
      output,
    );
  assert.ok(grpcurl, `a grpcurl line in:\n${output}`);
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(grpcurl[1] as string)) as unknown as {
    portico: { demo: { v1: { Greeter: grpc.ServiceClientConstructor } } };
  };
  type Reply = { message: string; servedBy: string };
  const greeter = new loaded.portico.demo.v1.Greeter(
    grpcurl[2] as string,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & { SayHello(request: object, callback: grpc.requestCallback<Reply>): void };
  try {
    const reply = await new Promise<Reply | undefined>((resolveCall, reject) =>
      greeter.SayHello({ name: 'demo' }, (err, answer) => (err === null ? resolveCall(answer) : reject(err))),
    );
    assert.deepEqual(reply, { message: 'Hello, demo!', servedBy: 'greeter-1-1' });
  } finally {
    greeter.close();
  }

  child.kill('SIGINT');
  assert.equal(await exited, 0);
});
