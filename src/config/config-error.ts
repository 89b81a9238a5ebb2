/** One problem found in a configuration file. */
export interface ConfigIssue {
  /** The file as the user named it. */
  file: string;
  /** 1-based line of the offending node, when known. */
  line?: number;
  /** 1-based column of the offending node, when known. */
  column?: number;
  /** Where in the document, like `routes[0].match.path`; empty for the file as a whole. */
  path: string;
  /** What is wrong, in plain words (what was expected, and what was found when useful). */
  message: string;
}

/**
 * Thrown when a configuration cannot be loaded; carries every issue found, not only the first.
 *
 * @example
 * try { await loadConfig('portico.yaml') } catch (err) {
 *   if (err instanceof ConfigError) console.error(formatConfigIssues(err.issues));
 * }
 */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(
      first === undefined
        ? 'invalid configuration'
        : `invalid configuration: ${formatConfigIssue(first)}${more}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** The outcome of a reload: applied, or refused with every issue of the new file (the running config stays). */
export type ReloadResult = { readonly ok: true } | { readonly ok: false; readonly error: ConfigError };

/** One issue as `file:line:column  path: message`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) {
    where += `:${issue.line}`;
    if (issue.column !== undefined) where += `:${issue.column}`;
  }
  return issue.path === '' ? `${where}  ${issue.message}` : `${where}  ${issue.path}: ${issue.message}`;
}

/**
 * Formats issues one per line, like `portico.yaml:12:5  routes[0].match.path: expected a string starting with "/"`.
 */
export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  return issues.map(formatConfigIssue).join('\n');
}
