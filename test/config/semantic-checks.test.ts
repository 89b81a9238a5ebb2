import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { isLoopbackHost, parseListenAddress } from '../../src/config/semantic-checks.ts';
import { issuesOf, minimal } from './helpers.ts';

function onlyIssue(text: string) {
  const issues = issuesOf(text);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  const [issue] = issues;
  assert.ok(issue);
  return issue;
}

test('route names must be unique', () => {
  const issue = onlyIssue(`${minimal}  - name: users\n    match: { path: /other }\n    service: users\n`);
  assert.equal(issue.path, 'routes[1].name');
  assert.equal(issue.line, 9);
  assert.match(issue.message, /duplicate name "users" \(already used by routes\[0\]\)/);
});

test('a route must name a declared service', () => {
  const issue = onlyIssue(
    'services: { users: {} }\nroutes:\n  - { name: a, match: { path: /a }, service: orders }\n',
  );
  assert.equal(issue.path, 'routes[0].service');
  assert.equal(issue.message, 'unknown service "orders" (declared: users)');
  assert.equal(issue.line, 3);
});

test('a route path pattern the router cannot build is refused at its line', () => {
  const issue = onlyIssue(
    'services: { users: {} }\nroutes:\n  - { name: a, match: { path: /a/**/b }, service: users }\n',
  );
  assert.equal(issue.path, 'routes[0].match.path');
  assert.equal(issue.line, 3);
  assert.match(issue.message, /route "a"/);
});

test('hashOn is refused with a balancer other than consistent-hash', () => {
  const issue = onlyIssue('services:\n  carts: { hashOn: "header:x-user-id" }\n');
  assert.equal(issue.path, 'services.carts.hashOn');
  assert.match(issue.message, /only applies to loadBalancer "consistent-hash"/);
});

test('consistent-hash without hashOn is accepted (it hashes on the client address)', () => {
  const config = parseConfig('services:\n  carts: { loadBalancer: consistent-hash }\n', 'p.yaml', {});
  assert.equal(config.services.carts?.hashOn, undefined);
});

test('static instance URLs must parse and have a host', () => {
  const issue = onlyIssue('services:\n  s:\n    instances:\n      - url: "http://[bad:80"\n');
  assert.equal(issue.path, 'services.s.instances[0].url');
  assert.match(issue.message, /expected a valid URL with host and port/);
  assert.match(
    onlyIssue('services:\n  s:\n    instances: [{ url: "http://h:99999" }]\n').message,
    /valid URL/,
  );
  assert.match(
    onlyIssue('services:\n  s:\n    instances: [{ url: "http://h:1/?q=1" }]\n').message,
    /without query/,
  );
});

test('a non-loopback admin listener requires a token', () => {
  const issue = onlyIssue('admin: { listen: "0.0.0.0:8081" }\n');
  assert.equal(issue.path, 'admin.listen');
  assert.match(issue.message, /admin\.token \(or tokens\) is required/);
  parseConfig('admin: { listen: "0.0.0.0:8081", token: "0123456789abcdef" }\n', 'p.yaml', {});
  parseConfig('admin: { listen: "localhost:8081" }\n', 'p.yaml', {});
  const hash = `sha256:${'c'.repeat(64)}`;
  parseConfig(
    `admin: { listen: "0.0.0.0:8081" }\ntokens: [{ name: ops, hash: "${hash}", role: admin }]\n`,
    'p.yaml',
    {},
  );
});

test('listen addresses must be host:port with a valid port', () => {
  assert.equal(onlyIssue('listen: "127.0.0.1"\n').path, 'listen');
  assert.match(onlyIssue('listen: "127.0.0.1:70000"\n').message, /port from 0 to 65535/);
  assert.equal(onlyIssue('admin: { listen: "nowhere" }\n').path, 'admin.listen');
  assert.match(onlyIssue('listen: "127.0.0.1:8081"\n').message, /must differ from listen/);
  parseConfig('listen: "[::1]:0"\nadmin: { listen: "127.0.0.1:0" }\n', 'p.yaml', {});
});

test('parses listen addresses and recognises loopback hosts', () => {
  assert.deepEqual(parseListenAddress('[::1]:8080'), { host: '::1', port: 8080 });
  assert.equal(typeof parseListenAddress('[nope]:80'), 'string');
  assert.ok(isLoopbackHost('127.0.0.2'));
  assert.ok(isLoopbackHost('::1'));
  assert.ok(isLoopbackHost('localhost'));
  assert.ok(!isLoopbackHost('0.0.0.0'));
  assert.ok(!isLoopbackHost('127.example.test'));
});

test('a version sunset earlier than its deprecation is an error', () => {
  const issues = issuesOf(
    'services:\n  s:\n    versions:\n      "1": { deprecated: "2026-06-01", sunset: "2026-01-01" }\n',
  );
  const issue = issues.find((i) => !i.message.includes('not supported yet'));
  assert.equal(issue?.path, 'services.s.versions["1"].sunset');
  // One rule, one issue: the check lives in versions/lifecycle.ts and is not repeated here.
  assert.equal(issues.filter((i) => i.path === issue?.path).length, 1, JSON.stringify(issues));
  assert.match(issue?.message ?? '', /sunset 2026-01-01 is earlier than deprecated 2026-06-01/);
});

test('a redis store requires a url', () => {
  const issues = issuesOf('store: { kind: redis }\n');
  const issue = issues.find((i) => !i.message.includes('not supported yet'));
  assert.equal(issue?.path, 'store');
  assert.match(issue?.message ?? '', /store\.url, store\.sentinels or store\.nodes is required/);
});

test('a redis store names one target, and sentinels need the primary name', () => {
  assert.match(
    onlyIssue('store: { kind: redis, url: "redis://127.0.0.1:6379", nodes: ["127.0.0.1:7000"] }\n').message,
    /exclude each other/,
  );
  const issue = onlyIssue('store: { kind: redis, sentinels: ["127.0.0.1:26379"] }\n');
  assert.equal(issue.path, 'store.name');
  parseConfig('store: { kind: redis, sentinels: ["127.0.0.1:26379"], name: main }\n', 'portico.yaml', {});
  parseConfig('store: { kind: redis, nodes: ["127.0.0.1:7000", "127.0.0.1:7001"] }\n', 'portico.yaml', {});
});

test('the status listener differs from the other listeners, and token names are unique', () => {
  const clash = onlyIssue('admin: { listen: "127.0.0.1:8081" }\nstatus: { listen: "127.0.0.1:8081" }\n');
  assert.equal(clash.path, 'status.listen');
  assert.match(clash.message, /must differ from admin.listen/);
  const hash = `sha256:${'d'.repeat(64)}`;
  const twice = onlyIssue(
    `tokens:\n  - { name: a, hash: "${hash}", role: read }\n  - { name: a, hash: "${hash}", role: "service:x" }\n`,
  );
  assert.equal(twice.path, 'tokens[1].name');
  const role = onlyIssue(`tokens: [{ name: a, hash: "${hash}", role: root }]\n`);
  assert.match(role.message, /"admin", "read" or "service:" and a service name/);
});

test('listener objects: addresses, duplicates, redirects and mtls are checked', () => {
  const tls = 'tls: { certificates: [{ cert: a.crt, key: a.key }] }';
  parseConfig(
    `listen:\n  - { address: "127.0.0.1:8080", redirectToHttps: true }\n  - { address: "127.0.0.1:8443", ${tls} }\n`,
    'p.yaml',
    {},
  );
  assert.equal(onlyIssue('listen: [{ address: "nowhere" }]\n').path, 'listen[0].address');
  assert.match(
    onlyIssue('listen: [{ address: "127.0.0.1:1" }, { address: "127.0.0.1:1" }]\n').message,
    /same address as another listener/,
  );
  assert.match(
    onlyIssue('listen: { address: "127.0.0.1:1", redirectToHttps: true }\n').message,
    /needs a TLS listener or `httpsPort`/,
  );
  assert.match(
    onlyIssue(`listen: { address: "127.0.0.1:1", redirectToHttps: true, ${tls} }\n`).message,
    /cannot redirect to HTTPS/,
  );
  assert.match(
    onlyIssue(`listen: { address: "127.0.0.1:8081", ${tls} }\n`).message,
    /must differ from listen/,
  );
  const mtlsRoute =
    'consumers: [{ id: a, certificates: ["san:DNS:a.test"] }]\nservices: { s: {} }\nroutes: [{ name: r, match: { path: /r }, service: s, auth: [mtls] }]\n';
  assert.match(onlyIssue(mtlsRoute).message, /no TLS listener has `clientAuth`/);
  parseConfig(
    `${mtlsRoute}listen: { address: "127.0.0.1:1", tls: { certificates: [{ cert: a, key: b }], clientAuth: { ca: c } } }\n`,
    'p.yaml',
    {},
  );
  assert.match(onlyIssue('services: { s: { tls: { cert: c.crt } } }\n').message, /cert and key go together/);
});

test('an HTTP/2 upstream protocol must match the scheme of its instances', () => {
  const h2c = onlyIssue(
    'services:\n  grpc: { protocol: h2c, instances: [{ url: "https://10.0.0.1:50051" }] }\nroutes: []\n',
  );
  assert.equal(h2c.path, 'services.grpc.instances[0].url');
  assert.match(h2c.message, /protocol h2c needs http:\/\/ instances/);
  const h2 = onlyIssue(
    'services:\n  grpc: { protocol: h2, instances: [{ url: "http://10.0.0.1:50051" }] }\nroutes: []\n',
  );
  assert.match(h2.message, /protocol h2 needs https:\/\/ instances/);
});

test('a redirect listener cannot serve HTTP/2', () => {
  const issue = onlyIssue(
    'listen:\n  - { address: 127.0.0.1:8443, tls: { certificates: [{ cert: a.crt, key: a.key }] } }\n' +
      '  - { address: 127.0.0.1:8080, redirectToHttps: true, http2: { enabled: true } }\n' +
      'services: {}\nroutes: []\n',
  );
  assert.equal(issue.path, 'listen[1].http2.enabled');
});
