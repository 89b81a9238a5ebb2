/** A call ran out of time (its per-try timeout on the last try, or its overall deadline). */
export class CallTimeoutError extends Error {
  readonly code = 'timeout';
  constructor(message = 'the call timed out', options?: ErrorOptions) {
    super(message, options);
    this.name = 'CallTimeoutError';
  }
}
