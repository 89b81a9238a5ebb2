import { dirname, resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../config/config-error.ts';
import type { Config } from '../config/schema.ts';
import { formatDocPath } from '../config/source-location.ts';
import { lifecycleProblem, type ContractDates } from '../versions/lifecycle.ts';
import { loadContractFile, type Contract } from './contract.ts';
import { ContractError } from './contract-error.ts';
import { contractValidator, type ContractValidator } from './request-validator.ts';

/** A contract named in config (`services.<name>.versions.<major>.contract`), loaded and compiled. */
export interface ConfigContract {
  /** Absolute path of the file. */
  readonly file: string;
  readonly contract: Contract;
  readonly validator: ContractValidator;
}

/** Per service, per major. */
export type ConfigContracts = ReadonlyMap<string, ReadonlyMap<number, ConfigContract>>;

const EMPTY: ConfigContracts = new Map();
// Config stays plain data (the schema's type); what its files hold sits beside it, keyed by the object itself.
const loaded = new WeakMap<Config, ConfigContracts>();

/**
 * Reads every contract file a config names (paths relative to the config file), checks and compiles it, and
 * keeps the result for {@link configContracts}. Dates in the contract's `info` (`x-deprecated`, `x-sunset`)
 * are checked with the config's own dates.
 *
 * @throws ConfigError listing every file that cannot be used, at `services.<name>.versions.<major>.contract`.
 * @example
 * const config = parseConfig(text, file);
 * await loadConfigContracts(config, file);
 * configContracts(config).get('users')?.get(1)?.validator;
 */
export async function loadConfigContracts(config: Config, configFile: string): Promise<void> {
  const out = new Map<string, Map<number, ConfigContract>>();
  const issues: ConfigIssue[] = [];
  const base = dirname(resolve(configFile));
  for (const [service, serviceConfig] of Object.entries(config.services)) {
    for (const [major, policy] of Object.entries(serviceConfig.versions ?? {})) {
      if (policy.contract === undefined) continue;
      const at = ['services', service, 'versions', major, 'contract'];
      const file = resolve(base, policy.contract);
      try {
        const contract = await loadContractFile(file);
        const entry = { file, contract, validator: contractValidator(contract) };
        const dates = contractDates(contract);
        const problem =
          dateProblem(dates) ??
          lifecycleProblem({
            deprecated: policy.deprecated ?? dates?.deprecated,
            sunset: policy.sunset ?? dates?.sunset,
          });
        if (problem !== undefined)
          issues.push({ file: configFile, path: formatDocPath(at), message: problem });
        let majors = out.get(service);
        if (majors === undefined) out.set(service, (majors = new Map()));
        majors.set(Number(major), entry);
      } catch (err) {
        if (!(err instanceof ContractError)) throw err;
        issues.push({
          file: configFile,
          path: formatDocPath(at),
          message: `${policy.contract}: ${err.message}`,
        });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  loaded.set(config, out);
}

/** The contracts loaded for this config object (empty when it names none or was not loaded from a file). */
export function configContracts(config: Config): ConfigContracts {
  return loaded.get(config) ?? EMPTY;
}

/** `info.x-deprecated` and `info.x-sunset` of a contract, when it carries them. */
export function contractDates(contract: Contract): ContractDates | undefined {
  const info = contract.document.info as Record<string, unknown> | undefined;
  const deprecated = info?.['x-deprecated'];
  const sunset = info?.['x-sunset'];
  if (typeof deprecated !== 'string' && typeof sunset !== 'string') return undefined;
  return {
    deprecated: typeof deprecated === 'string' ? deprecated : undefined,
    sunset: typeof sunset === 'string' ? sunset : undefined,
  };
}

function dateProblem(dates: ContractDates | undefined): string | undefined {
  for (const [name, value] of [
    ['x-deprecated', dates?.deprecated],
    ['x-sunset', dates?.sunset],
  ] as const) {
    if (value !== undefined && Number.isNaN(Date.parse(value)))
      return `the contract's info.${name} "${value}" is not a date (YYYY-MM-DD)`;
  }
  return undefined;
}
