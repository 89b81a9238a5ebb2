import { PassThrough, type Readable } from 'node:stream';

/**
 * The request body of a gRPC call, kept while it streams upstream so the call can be sent again to another
 * instance: every chunk read from the client is recorded (up to `limitBytes`), and a retry gets a new stream
 * that replays them and goes on with whatever the client still sends. A call whose messages outgrew the limit
 * is not replayable. One object per gRPC call on a service with retries; other requests never build one.
 */
export class ReplayableBody {
  readonly #source: Readable;
  readonly #limitBytes: number;
  #recorded: Buffer[] = [];
  #bytes = 0;
  #overflow = false;
  #ended = false;
  #current: PassThrough;

  constructor(source: Readable, limitBytes: number) {
    this.#source = source;
    this.#limitBytes = limitBytes;
    // Recorded as read from the client, before the upstream stream buffers it: what a dropped try swallowed
    // is still here for the next one.
    source.on('data', (chunk: Buffer) => this.#record(chunk));
    source.once('end', () => (this.#ended = true));
    this.#current = new PassThrough();
    source.pipe(this.#current);
  }

  /** The stream the current try sends. */
  get body(): Readable {
    return this.#current;
  }

  /** Whether everything the client sent so far is still recorded. */
  get replayable(): boolean {
    return !this.#overflow;
  }

  /** A new stream for the next try: the recorded bytes, then the rest of the client's body. */
  replay(): Readable {
    this.#source.unpipe(this.#current);
    const next = new PassThrough();
    for (const chunk of this.#recorded) next.write(chunk);
    if (this.#ended) next.end();
    else this.#source.pipe(next);
    this.#current = next;
    return next;
  }

  #record(chunk: Buffer): void {
    if (this.#overflow) return;
    this.#bytes += chunk.length;
    if (this.#bytes > this.#limitBytes) {
      this.#overflow = true;
      this.#recorded = [];
      return;
    }
    this.#recorded.push(chunk);
  }
}

/** The bytes of a gRPC call kept for a retry: a unary or server-streaming request is far below this. */
export const GRPC_REPLAY_LIMIT_BYTES = 64 * 1024;

/**
 * Whether an upstream gRPC answer head is a Trailers-Only answer whose `grpc-status` is one of `codes` (the
 * call failed before any message: UNAVAILABLE by default), which may be retried.
 */
export function isRetryableGrpcHead(rawHeaders: readonly Buffer[], codes: readonly number[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as Buffer).toString('latin1') !== 'grpc-status') continue;
    return codes.includes(Number((rawHeaders[i + 1] as Buffer).toString('latin1')));
  }
  return false;
}
