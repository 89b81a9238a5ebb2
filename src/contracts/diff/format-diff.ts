import type { DiffResult } from './diff-contracts.ts';

const labels = { breaking: 'BREAKING', warning: 'warning ', info: 'info    ' } as const;

/** The diff as text for a terminal: one line per change, breaking first, then a summary line. */
export function formatDiffText(result: DiffResult, options: { verbose?: boolean } = {}): string {
  const order = { breaking: 0, warning: 1, info: 2 } as const;
  const shown = result.changes
    .filter((change) => options.verbose === true || change.severity !== 'info')
    .sort((a, b) => order[a.severity] - order[b.severity]);
  const lines = shown.map((change) => {
    const where = [change.operation, change.location].filter((part) => part !== '').join(' ');
    const ignored = change.ignored ? ' (ignored)' : '';
    return `${labels[change.severity]} ${change.rule}  ${where}: ${change.message}${ignored}`;
  });
  lines.push(
    `${result.breaking} breaking, ${result.warnings} warning(s), ${result.changes.length} change(s) in all`,
  );
  return `${lines.join('\n')}\n`;
}
