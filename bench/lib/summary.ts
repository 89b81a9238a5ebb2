import type { BenchReport } from './report.ts';

/**
 * One line a CI log can carry: per scenario, Portico's first metric as a ratio to the reference that metric is
 * read against (the Node floor for the plain tables, the first row for Portico-against-itself tables), or the first
 * row's value when the scenario has no reference.
 *
 * @example
 * console.log(summaryLine(report)); // bench summary: plain-small req/s 0.81× node-floor; …
 */
export function summaryLine(report: BenchReport): string {
  const parts: string[] = [];
  for (const scenario of report.scenarios) {
    const column = scenario.columns[0];
    if (column === undefined) continue;
    const ok = scenario.rows.filter(
      (row) => row.status === 'ok' && Number.isFinite(row.metrics[column.key]?.median),
    );
    const reference = column.ratioTo
      .map((label) => ok.find((row) => row.label === label))
      .find((row) => row !== undefined);
    const subject =
      ok.find((row) => row.label === 'portico') ?? (reference === undefined ? ok[0] : ok.at(-1));
    const value = subject?.metrics[column.key]?.median;
    if (subject === undefined || value === undefined || !Number.isFinite(value)) {
      parts.push(`${scenario.name} failed`);
      continue;
    }
    const base = reference?.metrics[column.key]?.median;
    if (reference !== undefined && base !== undefined && base > 0 && Number.isFinite(base))
      parts.push(`${scenario.name} ${column.label} ${(value / base).toFixed(2)}× ${reference.label}`);
    else
      parts.push(
        `${scenario.name} ${subject.label} ${column.label} ${value.toFixed(column.decimals)}${column.unit === '' ? '' : ` ${column.unit}`}`,
      );
  }
  const skipped = report.skipped.length > 0 ? ` (skipped: ${report.skipped.join(', ')})` : '';
  return `bench summary: ${parts.join('; ')}${skipped}`;
}
