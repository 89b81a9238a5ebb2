import { parsePattern } from '../paths/route-pattern.ts';
import { compileAggregatePlan } from '../resilience/aggregate-plan.ts';
import { isIP } from 'node:net';
import { GRPC_HEALTH_PATH } from '../http/grpc-health.ts';
import { checkPolicyConfig } from '../policies/check-policy-config.ts';
import { checkSecurityConfig } from '../security/check-security-config.ts';
import { checkVersionConfig } from '../versions/check-version-config.ts';
import { listenersOf } from './listeners.ts';
import type { Config } from './schema.ts';

/** A rule broken across fields, found after the schema passed. */
export interface SemanticIssue {
  path: (string | number)[];
  message: string;
}

/** A parsed `host:port` listen address. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port` (IPv6 hosts in brackets: `[::1]:8080`); port 0 asks the system for a free port.
 * Returns a message instead when the text is not a valid address.
 *
 * @example parseListenAddress('127.0.0.1:8080') // { host: '127.0.0.1', port: 8080 }
 */
export function parseListenAddress(text: string): ListenAddress | string {
  const m = /^(\[[^\]]+\]|[^:[\]]+):([0-9]+)$/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined) {
    return `expected host:port, such as 127.0.0.1:8080 or [::1]:8080 (got ${JSON.stringify(text)})`;
  }
  const port = Number(m[2]);
  if (port > 65535) return `expected a port from 0 to 65535 (got ${m[2]})`;
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
  if (m[1].startsWith('[') && isIP(host) !== 6)
    return `expected an IPv6 address between brackets (got ${m[1]})`;
  return { host, port };
}

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Checks the rules the schema cannot express. Assumes `config` passed the schema.
 * A consistent-hash service without `hashOn` hashes on the client address (`ip`).
 */
export function checkSemantics(config: Config): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });

  const listeners = listenersOf(config);
  const bound: { host: string; port: number; path: (string | number)[] }[] = [];
  const hasTls = listeners.some((listener) => listener.tls !== undefined);
  listeners.forEach((listener, i) => {
    const path: (string | number)[] =
      typeof config.listen === 'string' ? ['listen'] : listenerPath(config, i);
    const address = parseListenAddress(listener.address);
    if (typeof address === 'string')
      add(typeof config.listen === 'string' ? path : [...path, 'address'], address);
    else {
      const twin = bound.find((b) => b.port !== 0 && b.port === address.port && b.host === address.host);
      if (twin !== undefined)
        add([...path, 'address'], `listens on the same address as another listener (${listener.address})`);
      bound.push({ ...address, path });
    }
    if (
      listener.tls !== undefined &&
      listener.tls.certificates === undefined &&
      listener.tls.acme === undefined
    )
      add([...path, 'tls'], 'a TLS listener needs `certificates` or `acme`');
    const acme = listener.tls?.acme;
    if (
      acme !== undefined &&
      (acme.challenge ?? 'http-01') === 'http-01' &&
      !listeners.some((l) => l.tls === undefined)
    )
      add(
        [...path, 'tls', 'acme'],
        'ACME http-01 challenges are answered on a plain listener: add one (port 80), or use challenge: tls-alpn-01',
      );
    if (acme !== undefined && acme.domains === undefined && acme.onDemand === undefined)
      add([...path, 'tls', 'acme'], 'needs `domains`, `onDemand`, or both');
    if (acme?.challenge === 'tls-alpn-01' && (acme.domains ?? []).some((domain) => domain.startsWith('*.')))
      add(
        [...path, 'tls', 'acme', 'domains'],
        'wildcard names cannot be validated with tls-alpn-01 (RFC 8737 §3); the CA needs dns-01 for them',
      );
    if (listener.redirectToHttps === true) {
      if (listener.tls !== undefined)
        add([...path, 'redirectToHttps'], 'a TLS listener cannot redirect to HTTPS (it already is)');
      else if (!hasTls && listener.httpsPort === undefined)
        add([...path, 'redirectToHttps'], 'needs a TLS listener or `httpsPort` to redirect to');
      if (listener.http2?.enabled === true)
        add([...path, 'http2', 'enabled'], 'a redirect listener answers HTTP/1.1 only: drop `http2`');
    }
  });
  for (const [name, service] of Object.entries(config.services)) {
    const check = service.healthCheck;
    if (check?.grpcService !== undefined && check.path !== GRPC_HEALTH_PATH)
      add(
        ['services', name, 'healthCheck', 'grpcService'],
        `names a gRPC service to check: needs path ${GRPC_HEALTH_PATH}`,
      );
    const protocol = service.protocol;
    if (protocol === 'http1' || protocol === undefined) continue;
    const scheme = protocol === 'h2' ? 'https:' : 'http:';
    service.instances.forEach((instance, i) => {
      if (!instance.url.startsWith(scheme))
        add(
          ['services', name, 'instances', i, 'url'],
          `protocol ${protocol} needs ${scheme}// instances (h2 is negotiated over TLS, h2c is plain)`,
        );
    });
  }
  const admin = parseListenAddress(config.admin.listen);
  if (typeof admin === 'string') {
    add(['admin', 'listen'], admin);
  } else {
    if (!isLoopbackHost(admin.host) && config.admin.token === undefined && config.tokens.length === 0) {
      add(
        ['admin', 'listen'],
        `admin.token (or tokens) is required when the admin listener is not on a loopback address (${config.admin.listen})`,
      );
    }
    for (const listen of bound) {
      if (listen.port !== 0 && listen.port === admin.port && listen.host === admin.host)
        add(['admin', 'listen'], `must differ from listen (both are ${config.admin.listen})`);
    }
  }
  const usesMtls = [...config.routes, ...(config.aggregates ?? [])].some(
    (r) => r.auth?.includes('mtls') === true,
  );
  if (usesMtls && !listeners.some((listener) => listener.tls?.clientAuth !== undefined)) {
    add(['listen'], 'a route uses auth `mtls` but no TLS listener has `clientAuth`');
  }

  if (config.status !== undefined) {
    const status = parseListenAddress(config.status.listen);
    if (typeof status === 'string') add(['status', 'listen'], status);
    else if (status.port !== 0) {
      const others: [string, { host: string; port: number } | string][] = [
        ...bound.map((b): [string, { host: string; port: number }] => ['listen', b]),
        ['admin.listen', admin],
      ];
      for (const [name, other] of others) {
        if (typeof other !== 'string' && other.port === status.port && other.host === status.host) {
          add(['status', 'listen'], `must differ from ${name} (both are ${config.status.listen})`);
        }
      }
    }
  }
  const tokenNames = new Set<string>();
  for (const [index, token] of config.tokens.entries()) {
    if (tokenNames.has(token.name)) add(['tokens', index, 'name'], `duplicate token name "${token.name}"`);
    tokenNames.add(token.name);
  }

  for (const [index, aggregate] of (config.aggregates ?? []).entries()) {
    if (Object.hasOwn(aggregate.calls, 'errors')) {
      add(
        ['aggregates', index, 'calls', 'errors'],
        'a call may not be named "errors": that key lists failed optional calls',
      );
    }
    try {
      compileAggregatePlan(aggregate.calls);
    } catch (err) {
      add(['aggregates', index, 'calls'], (err as Error).message);
    }
  }

  if (config.store.kind === 'redis') {
    const { url, sentinels, name, nodes } = config.store;
    const targets = [url, sentinels, nodes].filter((target) => target !== undefined).length;
    if (targets === 0)
      add(['store'], 'store.url, store.sentinels or store.nodes is required when store.kind is "redis"');
    else if (targets > 1)
      add(['store'], 'store.url, store.sentinels and store.nodes exclude each other: give one of them');
    if (sentinels !== undefined && name === undefined)
      add(['store', 'name'], 'store.name (the primary the sentinels watch) is required with store.sentinels');
  }

  for (const [name, service] of Object.entries(config.services)) {
    if (service.hashOn !== undefined && service.loadBalancer !== 'consistent-hash') {
      add(
        ['services', name, 'hashOn'],
        `hashOn only applies to loadBalancer "consistent-hash" (this service uses "${service.loadBalancer}")`,
      );
    }
    if (service.tls !== undefined && (service.tls.cert === undefined) !== (service.tls.key === undefined))
      add(['services', name, 'tls'], 'cert and key go together (a client certificate needs its key)');
    service.instances.forEach((instance, i) => {
      const problem = checkInstanceUrl(instance.url);
      if (problem !== undefined) add(['services', name, 'instances', i, 'url'], problem);
    });
  }

  const firstUse = new Map<string, string>();
  const claimName = (name: string, where: string, path: (string | number)[]) => {
    const earlier = firstUse.get(name);
    if (earlier === undefined) firstUse.set(name, where);
    else add(path, `duplicate name "${name}" (already used by ${earlier})`);
  };
  // The router refuses these patterns when it is built; refusing them here puts the error at its line,
  // in `portico validate` and in a reload alike.
  const checkPattern = (pattern: string, name: string, path: (string | number)[]) => {
    try {
      parsePattern(pattern, name);
    } catch (err) {
      add(path, (err as Error).message);
    }
  };
  checkIpRules(config.ipRules, ['ipRules'], add);
  config.routes.forEach((route, i) => {
    claimName(route.name, `routes[${i}]`, ['routes', i, 'name']);
    checkIpRules(route.ipRules, ['routes', i, 'ipRules'], add);
    checkPattern(route.match.path, route.name, ['routes', i, 'match', 'path']);
    if (!Object.hasOwn(config.services, route.service)) {
      add(['routes', i, 'service'], `unknown service "${route.service}"${knownServices(config)}`);
    }
    if (route.cache?.store === 'redis' && config.store.kind !== 'redis') {
      add(['routes', i, 'cache', 'store'], 'cache.store "redis" needs store.kind "redis" (its url is used)');
    }
    if (route.mirror !== undefined && !Object.hasOwn(config.services, route.mirror.service)) {
      add(
        ['routes', i, 'mirror', 'service'],
        `unknown service "${route.mirror.service}"${knownServices(config)}`,
      );
    }
  });
  config.aggregates?.forEach((aggregate, i) => {
    claimName(aggregate.name, `aggregates[${i}]`, ['aggregates', i, 'name']);
    checkPattern(aggregate.match.path, aggregate.name, ['aggregates', i, 'match', 'path']);
    for (const [key, call] of Object.entries(aggregate.calls)) {
      if (!Object.hasOwn(config.services, call.service)) {
        add(
          ['aggregates', i, 'calls', key, 'service'],
          `unknown service "${call.service}"${knownServices(config)}`,
        );
      }
    }
  });
  issues.push(...checkSecurityConfig(config));
  issues.push(...checkVersionConfig(config));
  issues.push(...checkPolicyConfig(config));
  return issues;
}

/** Every `allow` / `deny` entry must be an IPv4 or IPv6 address or CIDR range. */
function checkIpRules(
  rules: Config['ipRules'],
  path: (string | number)[],
  add: (path: (string | number)[], message: string) => void,
): void {
  if (rules === undefined) return;
  for (const list of ['allow', 'deny'] as const) {
    rules[list].forEach((entry, j) => {
      const problem = cidrProblem(entry);
      if (problem !== undefined) add([...path, list, j], problem);
    });
  }
}

/** Why `entry` is not an address or CIDR range (mirrors what node:net BlockList accepts), or undefined. */
export function cidrProblem(entry: string): string | undefined {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0)
    return `expected an IP address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32 (got ${JSON.stringify(entry)})`;
  if (slash < 0) return undefined;
  const prefixText = entry.slice(slash + 1);
  const prefix = Number(prefixText);
  const max = family === 4 ? 32 : 128;
  if (!/^[0-9]+$/.test(prefixText) || prefix > max)
    return `expected a prefix length from 0 to ${max} (got ${JSON.stringify(entry)})`;
  return undefined;
}

function knownServices(config: Config): string {
  const names = Object.keys(config.services);
  return names.length === 0 ? ' (no services are declared)' : ` (declared: ${names.join(', ')})`;
}

function checkInstanceUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a valid URL with host and port, such as http://127.0.0.1:9101 (got ${JSON.stringify(text)})`;
  }
  if (url.hostname === '') return `expected a URL with a host (got ${JSON.stringify(text)})`;
  if (url.username !== '' || url.password !== '') return 'credentials in instance URLs are not allowed';
  if (url.search !== '' || url.hash !== '')
    return `expected a URL without query or fragment (got ${JSON.stringify(text)})`;
  return undefined;
}

function listenerPath(config: Config, index: number): (string | number)[] {
  return Array.isArray(config.listen) ? ['listen', index] : ['listen'];
}
