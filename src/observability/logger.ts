import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on standard output; pino's async-friendly writes keep logging off the request path's cost. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'portico' }, timestamp: pino.stdTimeFunctions.isoTime });
}
