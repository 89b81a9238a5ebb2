import type { Config } from '../config/schema.ts';

/** A broken security rule, in the shape of the config's semantic issues. */
export interface SecurityConfigIssue {
  path: (string | number)[];
  message: string;
}

/**
 * The security rules the schema cannot express: every method a route names is configured, scopes come with
 * authentication, named limits exist, keys and ids are unique, algorithms have keys, and CORS does not pair
 * `*` with credentials.
 */
export function checkSecurityConfig(config: Config): SecurityConfigIssue[] {
  const issues: SecurityConfigIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const jwt = config.auth?.jwt;
  if (jwt !== undefined) {
    const hmac = jwt.algorithms.filter((alg) => alg.startsWith('HS'));
    const asymmetric = jwt.algorithms.filter((alg) => !alg.startsWith('HS'));
    if (hmac.length > 0 && jwt.secret === undefined)
      add(['auth', 'jwt', 'secret'], `a secret is required for ${hmac.join(', ')}`);
    if (asymmetric.length > 0 && jwt.jwks === undefined && jwt.keys === undefined)
      add(['auth', 'jwt', 'algorithms'], `jwks or keys is required for ${asymmetric.join(', ')}`);
    if (hmac.length === 0 && jwt.secret !== undefined)
      add(['auth', 'jwt', 'secret'], 'a secret is set but no HS* algorithm is accepted');
  }
  const ids = new Set<string>();
  const keys = new Set<string>();
  config.consumers?.forEach((consumer, i) => {
    if (ids.has(consumer.id)) add(['consumers', i, 'id'], `duplicate consumer id "${consumer.id}"`);
    ids.add(consumer.id);
    consumer.apiKeys?.forEach((key, k) => {
      const digest = key.toLowerCase();
      if (keys.has(digest))
        add(['consumers', i, 'apiKeys', k], 'this key hash is already used by a consumer');
      keys.add(digest);
    });
  });
  const named = config.rateLimits ?? {};
  config.routes.forEach((route, i) => {
    for (const method of route.auth ?? []) {
      if (method === 'jwt' && jwt === undefined)
        add(['routes', i, 'auth'], 'route accepts jwt but auth.jwt is not configured');
      if (method === 'apiKey' && (config.consumers ?? []).every((c) => (c.apiKeys ?? []).length === 0))
        add(['routes', i, 'auth'], 'route accepts apiKey but no consumer has an API key');
      if (method === 'mtls' && (config.consumers ?? []).every((c) => (c.certificates ?? []).length === 0))
        add(['routes', i, 'auth'], 'route accepts mtls but no consumer has `certificates`');
    }
    if (route.scopes !== undefined && route.auth === undefined)
      add(['routes', i, 'scopes'], 'scopes need authentication: add auth to the route');
    const limits =
      route.rateLimit === undefined
        ? []
        : Array.isArray(route.rateLimit)
          ? route.rateLimit
          : [route.rateLimit];
    limits.forEach((limit, l) => {
      if (typeof limit === 'string' && !Object.hasOwn(named, limit)) {
        const known = Object.keys(named);
        add(
          ['routes', i, 'rateLimit', ...(Array.isArray(route.rateLimit) ? [l] : [])],
          `unknown rate limit "${limit}"${known.length === 0 ? ' (no rateLimits are declared)' : ` (declared: ${known.join(', ')})`}`,
        );
      }
    });
  });
  config.aggregates?.forEach((aggregate, i) => {
    if (aggregate.auth?.includes('jwt') === true && jwt === undefined)
      add(['aggregates', i, 'auth'], 'aggregate accepts jwt but auth.jwt is not configured');
  });
  const cors = config.cors;
  if (cors !== undefined && cors.credentials && cors.origins.includes('*'))
    add(['cors', 'credentials'], 'credentials cannot be allowed for every origin ("*")');
  return issues;
}
