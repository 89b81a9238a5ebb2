import { parseCommandArgs } from '../parse-command-args.ts';

export const adminOptions = {
  admin: { type: 'string', default: process.env.PORTICO_ADMIN_URL ?? 'http://127.0.0.1:8081' },
  token: { type: 'string', default: process.env.PORTICO_ADMIN_TOKEN },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Calls the admin API of a running node; a JSON body is sent with `body`. Rejects with a readable error. */
export async function fetchAdmin(
  admin: string,
  token: string | undefined,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<unknown> {
  let res: Response;
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  try {
    res = await fetch(new URL(path, admin), {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    // fetch only says "fetch failed"; the cause (ECONNREFUSED, timeout) is what the operator needs.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`cannot reach the admin API at ${admin}: ${cause}`, { cause: err });
  }
  const body: unknown = res.status === 204 ? null : await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** `portico routes`: the routes of a running node, read from its admin API. */
export async function runRoutes(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    adminOptions,
    'Usage: portico routes [--admin URL] [--token TOKEN] [--json]\n',
    process,
    1,
  );
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const routes = (await fetchAdmin(values.admin, values.token, '/v1/routes')) as {
    name: string;
    match: { path: string; methods?: string[]; host?: string };
    service: string;
    instances: { available: boolean }[];
  }[];
  if (values.json === true) console.log(JSON.stringify(routes, null, 2));
  else {
    for (const route of routes) {
      const up = route.instances.filter((i) => i.available).length;
      console.log(
        `${route.name.padEnd(20)} ${(route.match.methods?.join(',') ?? '*').padEnd(16)} ${(route.match.host ?? '*').padEnd(18)} ${route.match.path.padEnd(24)} → ${route.service} (${up}/${route.instances.length} up)`,
      );
    }
  }
  return 0;
}

interface ServiceListing {
  revision: number;
  services: {
    name: string;
    versions: string[];
    instances: { total: number; passing: number; critical: number; draining: number };
  }[];
}

interface InstanceListing {
  revision: number;
  instances: { id: string; status: string; version: string; url: string; expiresAt: number }[];
}

/** `portico services [show NAME]`: services of a running node, read from its registry API. */
export async function runServices(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    args,
    adminOptions,
    'Usage: portico services [show NAME] [--admin URL] [--token TOKEN] [--json]\n',
    process,
    1,
    true,
  );
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (positionals[0] === 'show' && positionals[1] !== undefined) {
    const body = (await fetchAdmin(
      values.admin,
      values.token,
      `/v1/services/${encodeURIComponent(positionals[1])}/instances`,
    )) as InstanceListing;
    if (values.json === true) console.log(JSON.stringify(body, null, 2));
    else if (body.instances.length === 0) console.log(`no registered instance of ${positionals[1]}`);
    else {
      const now = Date.now();
      for (const i of body.instances) {
        const left = Math.max(0, Math.round((i.expiresAt - now) / 1000));
        console.log(
          `${i.id.padEnd(24)} ${i.status.padEnd(9)} ${i.version.padEnd(12)} ${i.url.padEnd(32)} lease ${left}s`,
        );
      }
    }
    return 0;
  }
  const body = (await fetchAdmin(values.admin, values.token, '/v1/services')) as ServiceListing;
  if (values.json === true) console.log(JSON.stringify(body, null, 2));
  else if (body.services.length === 0) console.log('no registered service');
  else {
    for (const service of body.services) {
      const { total, passing, critical, draining } = service.instances;
      const extra = [critical > 0 ? `${critical} critical` : '', draining > 0 ? `${draining} draining` : '']
        .filter((part) => part !== '')
        .join(', ');
      console.log(
        `${service.name.padEnd(24)} ${service.versions.join(',').padEnd(20)} ${passing}/${total} passing${extra === '' ? '' : ` (${extra})`}`,
      );
    }
  }
  return 0;
}
