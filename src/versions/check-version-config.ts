import semver from 'semver';
import type { Config } from '../config/schema.ts';
import { lifecycleProblem } from './lifecycle.ts';

/** Version rules that span fields: dates in order, valid default ranges, split weights that add up to something. */
export function checkVersionConfig(config: Config): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const [name, service] of Object.entries(config.services)) {
    for (const [major, policy] of Object.entries(service.versions ?? {})) {
      const problem = lifecycleProblem(policy);
      if (problem !== undefined)
        issues.push({ path: ['services', name, 'versions', major, 'sunset'], message: problem });
    }
  }
  config.routes.forEach((route, i) => {
    const range = route.version?.default;
    if (range !== undefined && semver.validRange(range) === null)
      issues.push({ path: ['routes', i, 'version', 'default'], message: `"${range}" is not a semver range` });
    if (route.split !== undefined && !Object.values(route.split).some((weight) => weight > 0))
      issues.push({ path: ['routes', i, 'split'], message: 'at least one version needs a weight above 0' });
  });
  return issues;
}
