import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCertificateFolder } from '../helpers/certificates.ts';
import { eventually } from '../helpers/eventually.ts';
import { startH2Load, type H2Load } from '../helpers/h2-load.ts';
import { freePort, startPortico } from '../helpers/portico-process.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Counts JSON log lines with this `msg`. */
function countLogs(output: string, msg: string): number {
  let count = 0;
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      if ((JSON.parse(line) as { msg?: unknown }).msg === msg) count++;
    } catch {
      // a line cut by the pipe
    }
  }
  return count;
}

test('a reload and a SIGTERM drain under HTTP/2 load (h2c and TLS) fail no stream', async (t) => {
  const certs = createCertificateFolder();
  t.after(() => certs.remove());
  const ca = certs.createCa('h2-drain-ca');
  const site = ca.issue('site', { names: ['api.example.test'] });
  const [blue, green] = await Promise.all([startUpstream('blue'), startUpstream('green')]);
  t.after(() => Promise.all([blue.close(), green.close()]));
  // Answers take a while, so that streams are in flight whenever the reload or the signal comes.
  blue.fault = { kind: 'delay', ms: 40 };
  green.fault = { kind: 'delay', ms: 40 };
  const tlsPort = await freePort();
  const h2cPort = await freePort();
  const configFor = (ports: { port: number; adminPort: number }, target: string): string => `
listen:
  - { address: 127.0.0.1:${ports.port} }
  - { address: 127.0.0.1:${h2cPort}, http2: { enabled: true } }
  - address: 127.0.0.1:${tlsPort}
    tls: { certificates: [{ cert: ${site.certFile}, key: ${site.keyFile} }] }
admin: { listen: 127.0.0.1:${ports.adminPort} }
logging: { level: info, accessLog: false }
shutdownTimeout: 60s
services:
  blue: { instances: [{ url: "${blue.url}" }] }
  green: { instances: [{ url: "${green.url}" }] }
routes:
  - { name: load, match: { path: /load/** }, service: ${target} }
`;
  const portico = await startPortico((ports) => configFor(ports, 'blue'));
  t.after(() => portico.stop('SIGKILL'));

  const loads: H2Load[] = [
    startH2Load({ origin: `http://127.0.0.1:${h2cPort}`, path: '/load/h2c', connections: 3, streams: 8 }),
    startH2Load({
      origin: `https://127.0.0.1:${tlsPort}`,
      path: '/load/tls',
      connections: 3,
      streams: 8,
      tls: { ca: ca.cert, servername: 'api.example.test' },
    }),
  ];
  t.after(() => Promise.all(loads.map((load) => load.stop())));
  const total = (field: 'ok' | 'refused' | 'goaways'): number =>
    loads.reduce((sum, load) => sum + load.report[field], 0);
  const failures = (): string[] => loads.flatMap((load) => load.report.failures);
  const servedBy = (name: string): number =>
    loads.reduce((sum, load) => sum + (load.report.upstreams.get(name) ?? 0), 0);

  await eventually(() => loads.every((load) => load.report.ok >= 100), 30_000);

  // A reload swaps the table under the open connections: no stream fails, no connection is sent away.
  const reloaded = countLogs(portico.output(), 'config reloaded');
  await portico.writeConfig(configFor({ port: portico.port, adminPort: portico.adminPort }, 'green'));
  await eventually(() => countLogs(portico.output(), 'config reloaded') > reloaded, 30_000);
  const greenBefore = servedBy('green');
  await eventually(() => servedBy('green') >= greenBefore + 200, 30_000);
  assert.deepEqual(failures(), []);
  assert.equal(total('goaways'), 0);
  assert.equal(total('refused'), 0);
  assert.equal(
    loads.reduce((sum, load) => sum + load.report.connections, 0),
    6,
  );

  // SIGTERM with 48 streams in flight: each connection gets GOAWAY, the streams the server took finish, new ones
  // are refused (REFUSED_STREAM or not sent) and their retry on a new connection finds the listener closed.
  const okAtSignal = total('ok');
  const exitCode = await portico.stop('SIGTERM');
  const reports = await Promise.all(loads.map((load) => load.stop()));
  assert.equal(exitCode, 0, portico.output());
  assert.deepEqual(failures(), []);
  assert.ok(total('ok') > okAtSignal, 'streams in flight at the signal were answered');
  for (const report of reports) {
    assert.equal(report.goaways, 3, 'every connection was told to go away');
    assert.ok(report.connectRefused > 0, 'retries after GOAWAY met a closed listener');
  }
  // The drain ended when the streams did, not at shutdownTimeout with connections cut.
  assert.equal(countLogs(portico.output(), 'shutting down: drain deadline passed, cutting connections'), 0);
});
