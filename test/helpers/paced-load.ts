import { Agent, request } from 'undici';

/** One request of a paced run. */
export interface PacedOutcome {
  /** When it was sent, in ms since the run started. */
  readonly sentAtMs: number;
  /** 0 when no answer came (error, timeout, abandoned). */
  status: number;
  /** Time to the end of the answer, -1 while unsettled. */
  durationMs: number;
  error: string | undefined;
}

export interface PacedLoad {
  /** Every request sent so far, in order. */
  readonly outcomes: readonly PacedOutcome[];
  /** Ms since the run started. */
  elapsedMs(): number;
  /**
   * Stops sending, waits up to `settleMs` for the requests in flight, then abandons the rest (their
   * connections are destroyed and they count as `abandoned`).
   */
  stop(settleMs: number): Promise<readonly PacedOutcome[]>;
}

/**
 * Sends GETs at a fixed rate (open loop: a slow or hanging answer does not slow the sender down, as with real
 * clients), each on its own keep-alive agent slot, with `timeoutMs` as the client's own limit.
 */
export function startPacedLoad(url: string, ratePerSecond: number, timeoutMs: number): PacedLoad {
  const agent = new Agent({ connections: null, keepAliveTimeout: 10_000 });
  const outcomes: PacedOutcome[] = [];
  const started = performance.now();
  let inflight = 0;
  let sent = 0;
  const settle = (outcome: PacedOutcome, status: number, error: string | undefined): void => {
    if (outcome.durationMs !== -1) return;
    outcome.status = status;
    outcome.error = error;
    outcome.durationMs = performance.now() - started - outcome.sentAtMs;
    inflight--;
  };
  const send = (): void => {
    const outcome: PacedOutcome = {
      sentAtMs: performance.now() - started,
      status: 0,
      durationMs: -1,
      error: undefined,
    };
    outcomes.push(outcome);
    inflight++;
    request(url, { dispatcher: agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }).then(
      async (res) => {
        await res.body.dump();
        settle(outcome, res.statusCode, undefined);
      },
      (err: unknown) => settle(outcome, 0, (err as { code?: string }).code ?? String(err)),
    );
  };
  // Sends whatever is due by the clock on each tick, so timer drift does not lower the rate.
  const ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * ratePerSecond);
    while (sent < due) {
      sent++;
      send();
    }
  }, 5);
  return {
    outcomes,
    elapsedMs: () => performance.now() - started,
    async stop(settleMs) {
      clearInterval(ticker);
      const deadline = performance.now() + settleMs;
      while (inflight > 0 && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      for (const outcome of outcomes) settle(outcome, 0, 'abandoned');
      await agent.destroy();
      return outcomes;
    },
  };
}
