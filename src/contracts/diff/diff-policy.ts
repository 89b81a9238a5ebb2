import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ContractError } from '../contract-error.ts';
import type { DiffOptions, IgnoreEntry } from './diff-contracts.ts';
import { isDiffRule, type DiffRuleId, type Severity } from './rules.ts';

const severities: ReadonlySet<string> = new Set<Severity>(['breaking', 'warning', 'info']);

/**
 * Reads an ignore file (YAML or JSON): accepted breaks and per-rule severities.
 *
 * @example
 * # .portico-contract.yaml
 * ignore:
 *   - { rule: operation-removed, operation: "GET /legacy" }   # agreed with every consumer
 * severity:
 *   response-optional-property-removed: info
 */
export async function loadDiffPolicy(file: string): Promise<Pick<DiffOptions, 'ignore' | 'severity'>> {
  let data: unknown;
  try {
    data = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ContractError(`cannot read the ignore file ${file}: ${(err as Error).message}`, '');
  }
  return parseDiffPolicy(data ?? {});
}

/** Checks a parsed ignore file; unknown rules and severities are refused so a typo cannot hide a break. */
function parseDiffPolicy(data: unknown): Pick<DiffOptions, 'ignore' | 'severity'> {
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new ContractError('the ignore file must be a mapping with "ignore" and/or "severity"', '');
  const record = data as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (key !== 'ignore' && key !== 'severity') throw new ContractError(`unknown key "${key}"`, key);
  const ignore: IgnoreEntry[] = [];
  const list = record.ignore ?? [];
  if (!Array.isArray(list)) throw new ContractError('"ignore" must be a list', 'ignore');
  list.forEach((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object')
      throw new ContractError('each entry is a mapping of rule, operation, location', `ignore.${i}`);
    const { rule, operation, location, ...rest } = entry as Record<string, unknown>;
    for (const key of Object.keys(rest))
      if (key !== 'reason') throw new ContractError(`unknown key "${key}"`, `ignore.${i}`);
    if (rule !== undefined && (typeof rule !== 'string' || (rule !== '*' && !isDiffRule(rule))))
      throw new ContractError(`unknown rule "${String(rule)}"`, `ignore.${i}.rule`);
    ignore.push({
      rule,
      operation: optionalString(operation, `ignore.${i}.operation`),
      location: optionalString(location, `ignore.${i}.location`),
    });
  });
  const severity: Partial<Record<DiffRuleId, Severity>> = {};
  const levels = record.severity ?? {};
  if (levels === null || typeof levels !== 'object' || Array.isArray(levels))
    throw new ContractError('"severity" must map rule ids to breaking, warning or info', 'severity');
  for (const [rule, level] of Object.entries(levels)) {
    if (!isDiffRule(rule)) throw new ContractError(`unknown rule "${rule}"`, `severity.${rule}`);
    if (typeof level !== 'string' || !severities.has(level))
      throw new ContractError('must be breaking, warning or info', `severity.${rule}`);
    severity[rule] = level as Severity;
  }
  return { ignore, severity };
}

function optionalString(value: unknown, at: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ContractError('must be a string', at);
  return value;
}
