import type { Logger } from '../observability/logger.ts';
import type { Violation } from '../contracts/request-validator.ts';

/** One line of {@link ResponseReports.entries}. */
export interface ResponseReportLine {
  readonly route: string;
  readonly service: string;
  readonly answers: number;
}

/** At most one log line per route in this window: a service that breaks its contract does so on every answer. */
const LOG_EVERY_MS = 10_000;

interface RouteCount {
  route: string;
  service: string;
  answers: number;
  loggedAt: number;
  sinceLog: number;
}

/**
 * Report-only response validation (`validate: request-and-response`): answers that break the contract are
 * counted per route (`portico_contract_response_violations_total`) and logged at warn, at most once per route
 * every 10 s with the number since the last line. The answers themselves are never touched. One per node (in
 * its node state); the gateway gives it its logger, the metrics read it.
 */
export class ResponseReports {
  readonly #counts = new Map<string, RouteCount>();
  readonly #clock: () => number;
  #logger: Pick<Logger, 'warn'> | undefined;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  setLogger(logger: Pick<Logger, 'warn'>): void {
    this.#logger = logger;
  }

  report(
    route: string,
    service: string,
    request: { method: string; path: string; status: number; requestId: string },
    violations: readonly Violation[],
  ): void {
    let count = this.#counts.get(route);
    if (count === undefined)
      this.#counts.set(route, (count = { route, service, answers: 0, loggedAt: -Infinity, sinceLog: 0 }));
    count.answers++;
    count.sinceLog++;
    const now = this.#clock();
    if (now - count.loggedAt < LOG_EVERY_MS) return;
    this.#logger?.warn(
      { route, service, ...request, violations, answersSinceLastReport: count.sinceLog },
      'an answer does not match the contract (report-only)',
    );
    count.loggedAt = now;
    count.sinceLog = 0;
  }

  entries(): ResponseReportLine[] {
    return [...this.#counts.values()].map(({ route, service, answers }) => ({ route, service, answers }));
  }
}
