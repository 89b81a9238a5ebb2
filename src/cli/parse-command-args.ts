import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** What a command's `parseArgs` call answers: the option values and the positionals. */
export type CommandArgs<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>
>;

/** Where a command writes its usage. */
export interface UsageOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * Parses a command's arguments strictly. On `--help` it prints `help` to stdout and answers 0; on an unknown
 * or malformed option (or a positional argument, unless `allowPositionals`) it prints the problem and `help` to
 * stderr and answers `usageExitCode`. The command returns a number answer as its exit status.
 *
 * @example
 * const parsed = parseCommandArgs(args, { json: { type: 'boolean' } }, HELP, io, 2);
 * if (typeof parsed === 'number') return parsed;
 */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  help: string,
  io: UsageOutput,
  usageExitCode: number,
  allowPositionals = false,
): CommandArgs<O> | number {
  let parsed: CommandArgs<O>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    const [extra] = parsed.positionals;
    if (!allowPositionals && extra !== undefined) throw new TypeError(`unexpected argument "${extra}"`);
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${help}`);
    return usageExitCode;
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    io.stdout.write(help);
    return 0;
  }
  return parsed;
}
