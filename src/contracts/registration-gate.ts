import semver from 'semver';
import type { Logger } from '../observability/logger.ts';
import { PorticoError } from '../errors/portico-error.ts';
import type { ContractGate, Registry } from '../registry/registry.ts';
import type { RegistrationInput } from '../registry/validate-registration.ts';
import { parseContract, type Contract } from './contract.ts';
import { ContractError } from './contract-error.ts';
import { diffContracts } from './diff/diff-contracts.ts';

export interface RegistrationGateOptions {
  readonly logger: Pick<Logger, 'warn'>;
  /** Epoch ms, for sunset dates in the diff. */
  readonly clock?: () => number;
}

/**
 * The registry's contract check: a contract must be a usable OpenAPI 3 document, and a new minor or patch release
 * must not break the highest registered lower version of the same major (409 `breaking_change` with the list).
 * `force: true` lets it through and logs the breaks.
 *
 * @example
 * const registry = createRegistry({ store, addressPolicy, contractGate: createRegistrationGate({ logger }) });
 */
export function createRegistrationGate(options: RegistrationGateOptions): ContractGate {
  const clock = options.clock ?? Date.now;
  return async function checkContract(input: RegistrationInput, registry: Registry): Promise<void> {
    const next = await parse(input.contract ?? '');
    const previous = await previousContract(registry, input.service, input.version);
    if (previous === undefined) return;
    const result = diffContracts(previous.contract, next, { now: clock() });
    if (result.breaking === 0) return;
    const breaks = result.changes
      .filter((change) => change.severity === 'breaking' && !change.ignored)
      .map(({ rule, operation, location, message }) => ({ rule, operation, location, message }));
    if (input.force) {
      options.logger.warn(
        { service: input.service, version: input.version, against: previous.version, breaks },
        'registered a breaking contract with force: true',
      );
      return;
    }
    throw new PorticoError(
      'breaking_change',
      `${input.service} ${input.version} breaks ${previous.version} in ${breaks.length} place(s); register with force: true to override`,
      { service: input.service, version: input.version, against: previous.version, breaks },
    );
  };
}

async function parse(text: string): Promise<Contract> {
  try {
    return await parseContract(text);
  } catch (err) {
    if (err instanceof ContractError)
      throw new PorticoError('invalid_registration', `contract: ${err.message}`, {
        field: 'contract',
        location: err.location,
      });
    throw err;
  }
}

/** The highest version below `version` in the same major that has a contract; a new major may break freely. */
async function previousContract(
  registry: Registry,
  service: string,
  version: string,
): Promise<{ version: string; contract: Contract } | undefined> {
  const major = semver.major(version);
  const candidates = [...new Set(registry.listInstances(service).map((instance) => instance.version))]
    .filter((v) => semver.major(v) === major && semver.lt(v, version))
    .sort(semver.rcompare);
  for (const candidate of candidates) {
    const text = await registry.getContract(service, candidate);
    if (text === undefined) continue;
    try {
      return { version: candidate, contract: await parseContract(text) };
    } catch {
      // A contract stored before the check existed may be unusable: compare with the next one down.
    }
  }
  return undefined;
}
