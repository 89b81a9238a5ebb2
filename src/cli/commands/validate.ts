import { ConfigError, formatConfigIssues } from '../../config/config-error.ts';
import { loadConfig } from '../../config/load.ts';
import { parseCommandArgs } from '../parse-command-args.ts';

/** Where `runValidate` writes and which environment it interpolates from; tests pass their own. */
export interface ValidateIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

const OPTIONS = {
  config: { type: 'string', short: 'c', default: 'portico.yaml' },
  help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `Usage: portico validate [-c FILE]

Checks a configuration file and prints every problem with file:line:column and its path.

Options:
  -c, --config FILE  configuration file, YAML or JSON (default: portico.yaml)
  -h, --help         show this help

Exit status: 0 when the file is valid, 1 otherwise.
`;

/**
 * `portico validate`: loads the configuration and reports every issue.
 *
 * @example process.exitCode = await runValidate(['-c', 'portico.yaml']);
 * @returns 0 when valid, 1 when invalid or when the arguments are wrong.
 */
export async function runValidate(
  args: string[],
  io: ValidateIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const parsed = parseCommandArgs(args, OPTIONS, HELP, io, 1);
  if (typeof parsed === 'number') return parsed;
  const file = parsed.values.config;
  try {
    await loadConfig(file, io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const count = err.issues.length;
    io.stderr.write(
      `${formatConfigIssues(err.issues)}\n${file}: ${count} problem${count === 1 ? '' : 's'}\n`,
    );
    return 1;
  }
  io.stdout.write(`${file}: ok\n`);
  return 0;
}
