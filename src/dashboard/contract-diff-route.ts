import semver from 'semver';
import type { AdminRoute } from '../admin/admin-route.ts';
import { sendJson } from '../admin/json-body.ts';
import { parseContract, type Contract } from '../contracts/contract.ts';
import { diffContracts, type ContractChange } from '../contracts/diff/diff-contracts.ts';
import { PorticoError } from '../errors/portico-error.ts';
import type { Registry } from '../registry/registry.ts';

/** What the diff endpoint answers. */
export interface ContractDiffAnswer {
  readonly service: string;
  readonly version: string;
  /** The version compared against, or null when there is no earlier version with a contract. */
  readonly against: string | null;
  readonly changes: readonly ContractChange[];
  readonly breaking: number;
  readonly warnings: number;
}

/**
 * `GET /v1/services/{service}/versions/{version}/contract/diff[?against=V]`: the contract of a version compared
 * with another one, by default the highest registered lower version that has a contract (whatever its major).
 *
 * @example
 * adminRoutes.push(createContractDiffRoute(registry));
 */
export function createContractDiffRoute(registry: Registry, clock: () => number = Date.now): AdminRoute {
  return {
    method: 'GET',
    path: '/v1/services/{service}/versions/{version}/contract/diff',
    handler: async function diffContractVersions(_req, res, { params, url }) {
      const { service = '', version = '' } = params;
      const after = await load(registry, service, version);
      if (after === undefined) throw new PorticoError('not_found', `no contract for ${service} ${version}`);
      const asked = url.searchParams.get('against');
      const before =
        asked === null
          ? await previousVersion(registry, service, version)
          : await load(registry, service, asked).then((contract) =>
              contract === undefined ? undefined : { version: asked, contract },
            );
      if (asked !== null && before === undefined)
        throw new PorticoError('not_found', `no contract for ${service} ${asked}`);
      const answer: ContractDiffAnswer =
        before === undefined
          ? { service, version, against: null, changes: [], breaking: 0, warnings: 0 }
          : {
              service,
              version,
              against: before.version,
              ...diffContracts(before.contract, after, { now: clock() }),
            };
      sendJson(res, 200, answer);
    },
  };
}

async function load(registry: Registry, service: string, version: string): Promise<Contract | undefined> {
  const text = await registry.getContract(service, version);
  if (text === undefined) return undefined;
  try {
    return await parseContract(text);
  } catch {
    throw new PorticoError('bad_request', `the stored contract of ${service} ${version} cannot be read`);
  }
}

async function previousVersion(
  registry: Registry,
  service: string,
  version: string,
): Promise<{ version: string; contract: Contract } | undefined> {
  const lower = [...new Set(registry.listInstances(service).map((instance) => instance.version))]
    .filter((candidate) => semver.valid(candidate) !== null && semver.valid(version) !== null)
    .filter((candidate) => semver.lt(candidate, version))
    .sort(semver.rcompare);
  for (const candidate of lower) {
    const text = await registry.getContract(service, candidate);
    if (text === undefined) continue;
    try {
      return { version: candidate, contract: await parseContract(text) };
    } catch {
      // An unreadable older contract is skipped: compare with the next one down.
    }
  }
  return undefined;
}
