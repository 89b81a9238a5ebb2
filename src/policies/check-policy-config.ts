import type { Config, HeaderEditConfig, TransformConfig } from '../config/schema.ts';
import { protectedRequestHeader, protectedResponseHeader } from './protected-headers.ts';
import { unknownPlaceholders } from './value-template.ts';

/** A rule broken in a route's policies, with the config path it is found at. */
export interface PolicyIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Checks what the schema cannot: transforms never touch Portico-owned headers, placeholders are known,
 * regular expressions compile.
 */
export function checkPolicyConfig(config: Config): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  config.routes.forEach((route, i) => {
    if (route.transform !== undefined) checkTransform(route.transform, ['routes', i, 'transform'], issues);
  });
  for (const [service, serviceConfig] of Object.entries(config.services)) {
    for (const [major, policy] of Object.entries(serviceConfig.versions ?? {})) {
      if (policy.transform !== undefined)
        checkTransform(policy.transform, ['services', service, 'versions', major, 'transform'], issues);
    }
  }
  return issues;
}

function checkTransform(transform: TransformConfig, base: (string | number)[], issues: PolicyIssue[]): void {
  const request = transform.request;
  if (request?.headers !== undefined)
    checkHeaders(request.headers, [...base, 'request', 'headers'], protectedRequestHeader, issues);
  if (transform.response?.headers !== undefined)
    checkHeaders(
      transform.response.headers,
      [...base, 'response', 'headers'],
      protectedResponseHeader,
      issues,
    );
  if (request?.path !== undefined) {
    try {
      new RegExp(request.path.pattern);
    } catch (err) {
      issues.push({ path: [...base, 'request', 'path', 'pattern'], message: (err as Error).message });
    }
  }
  for (const [name, value] of Object.entries(request?.query?.set ?? {}))
    checkPlaceholders(value, [...base, 'request', 'query', 'set', name], issues);
}

function checkHeaders(
  edit: HeaderEditConfig,
  path: (string | number)[],
  protectedReason: (name: string) => string | undefined,
  issues: PolicyIssue[],
): void {
  const check = (name: string, at: (string | number)[]) => {
    const reason = protectedReason(name);
    if (reason !== undefined) issues.push({ path: at, message: reason });
  };
  for (const list of ['set', 'add'] as const) {
    for (const [name, value] of Object.entries(edit[list] ?? {})) {
      check(name, [...path, list, name]);
      checkPlaceholders(value, [...path, list, name], issues);
    }
  }
  edit.remove?.forEach((name, j) => check(name, [...path, 'remove', j]));
  for (const [from, to] of Object.entries(edit.rename ?? {})) {
    check(from, [...path, 'rename', from]);
    check(to, [...path, 'rename', from]);
  }
}

function checkPlaceholders(value: string, path: (string | number)[], issues: PolicyIssue[]): void {
  const unknown = unknownPlaceholders(value);
  if (unknown.length > 0)
    issues.push({
      path,
      message: `unknown placeholder ${unknown.join(', ')} (known: {param.NAME}, {consumer}, {requestId}, {clientIp})`,
    });
}
