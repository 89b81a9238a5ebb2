import { loadContractFile } from '../../contracts/contract.ts';
import { ContractError } from '../../contracts/contract-error.ts';
import { diffContracts, type DiffOptions } from '../../contracts/diff/diff-contracts.ts';
import { loadDiffPolicy } from '../../contracts/diff/diff-policy.ts';
import { formatDiffText } from '../../contracts/diff/format-diff.ts';
import { parseCommandArgs } from '../parse-command-args.ts';

/** Where `runContract` writes; tests pass their own. */
export interface ContractIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Epoch ms for sunset dates. */
  now?: () => number;
}

const OPTIONS = {
  json: { type: 'boolean' },
  ignore: { type: 'string' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `Usage: portico contract diff OLD NEW [--json] [--ignore FILE] [--all]

Compares two OpenAPI 3.0/3.1 documents (JSON or YAML) and classifies every difference as breaking,
warning or info (rules: docs/contracts.md).

Options:
  --json         print the result as JSON
  --ignore FILE  accepted breaks and per-rule severities (YAML or JSON, see docs/contracts.md)
  --all          also list informational changes in text output
  -h, --help     show this help

Exit status: 0 when nothing breaks, 1 when something breaks, 2 when a document cannot be read.
`;

/**
 * `portico contract diff OLD NEW`.
 *
 * @example process.exitCode = await runContract(['diff', 'v1.yaml', 'v1.1.yaml', '--json']);
 */
export async function runContract(
  args: string[],
  io: ContractIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const parsed = parseCommandArgs(args, OPTIONS, HELP, io, 2, true);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [sub, oldFile, newFile, ...extra] = positionals;
  if (sub !== 'diff' || oldFile === undefined || newFile === undefined || extra.length > 0) {
    io.stderr.write(HELP);
    return 2;
  }
  let options: DiffOptions = { now: (io.now ?? Date.now)() };
  try {
    if (values.ignore !== undefined) options = { ...options, ...(await loadDiffPolicy(values.ignore)) };
    const [before, after] = await Promise.all([loadContractFile(oldFile), loadContractFile(newFile)]);
    const result = diffContracts(before, after, options);
    if (values.json === true) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else io.stdout.write(formatDiffText(result, { verbose: values.all === true }));
    return result.breaking > 0 ? 1 : 0;
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    io.stderr.write(`portico contract: ${err.message}\n`);
    return 2;
  }
}
