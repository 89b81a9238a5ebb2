import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionGuardOptions {
  /** Absolute time a connection has for each complete request head. */
  readonly headersTimeoutMs: number;
  readonly maxConnectionsPerClient: number;
  /** Peers exempt from the per-client share (trusted proxies carry many clients). */
  readonly isExempt: (peer: string) => boolean;
}

interface GuardState {
  readonly peer: string;
  /** Requests whose head arrived and whose answer has not closed yet. */
  inflight: number;
  /**
   * When the request head being received must be complete (ms, performance clock); RUNNING while a
   * request runs, IDLE between an answer and the first byte of the next request.
   */
  headDeadline: number;
  /** bytesRead when the sweep last saw this connection idle; -1 before it looked. */
  idleBytes: number;
}
const RUNNING = 0;
const IDLE = -1;
/** An HTTP/2 connection: streams come and go; its idleness is the session's timeout, not a head deadline. */
const MULTIPLEXED = -2;

/**
 * Whole milliseconds of the performance clock: small integers stay unboxed in the deadline field (a fraction
 * would box a heap number per connection) until the process has run for about 12 days.
 */
function nowMs(): number {
  return Math.trunc(performance.now());
}

const requestTimeoutAnswer = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/**
 * Cuts slow request heads and bounds connections per client address.
 *
 * Node's headersTimeout is checked against the parser's activity, so a client that sends one byte a
 * second keeps a partial head open forever. Like HAProxy's `timeout http-request`, every connection here
 * gets an absolute deadline for each request head: from accept for the first request, and from its
 * first byte (seen by the sweep, so up to two sweeps late) for the next ones on a kept-alive connection.
 * One sweep timer checks every connection; a request only writes a few fields of its connection's state.
 */
export class ConnectionGuard {
  readonly #options: ConnectionGuardOptions;
  /**
   * Every guarded connection and its state. A map rather than a property on the socket, and one 'close'
   * listener shared by all of them: 10,000 idle connections cost about 700 bytes of heap each less than a
   * symbol property (which gives each socket a new property array) and a closure per socket did.
   */
  readonly #sockets = new Map<Socket, GuardState>();
  readonly #onClose: (this: Socket) => void;
  #servers = 0;
  readonly #perClient = new Map<string, number>();
  /** Coarse clock, advanced by the sweep: requests never read the time for this. */
  #now = nowMs();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: ConnectionGuardOptions) {
    this.#options = options;
    const sweepMs = Math.max(100, Math.min(1000, options.headersTimeoutMs / 4));
    this.#sweep = setInterval(() => this.#expire(), sweepMs);
    this.#sweep.unref();
    const sockets = this.#sockets;
    const perClient = this.#perClient;
    this.#onClose = function release(this: Socket): void {
      const state = sockets.get(this);
      if (state === undefined) return;
      sockets.delete(this);
      const held = (perClient.get(state.peer) ?? 1) - 1;
      if (held <= 0) perClient.delete(state.peer);
      else perClient.set(state.peer, held);
    };
  }

  /** Admits a new connection or destroys it when its client address already holds its share. */
  admit(socket: Socket): void {
    const peer = socket.remoteAddress ?? '';
    const held = this.#perClient.get(peer) ?? 0;
    if (held >= this.#options.maxConnectionsPerClient && !this.#options.isExempt(peer)) {
      socket.destroy();
      return;
    }
    this.#perClient.set(peer, held + 1);
    this.#now = nowMs();
    const state: GuardState = {
      peer,
      inflight: 0,
      headDeadline: this.#now + this.#options.headersTimeoutMs,
      idleBytes: -1,
    };
    this.#sockets.set(socket, state);
    socket.on('close', this.#onClose);
  }

  /** A request head arrived complete on this connection. */
  headReceived(socket: Socket): void {
    const state = this.#sockets.get(socket);
    if (state === undefined) return;
    state.inflight++;
    if (state.headDeadline !== MULTIPLEXED) state.headDeadline = RUNNING;
  }

  /** The connection speaks HTTP/2: no head deadline applies to it any more. */
  multiplexed(socket: Socket): void {
    const state = this.#sockets.get(socket);
    if (state !== undefined) state.headDeadline = MULTIPLEXED;
  }

  /** An answer on this connection closed; the clock of the next head starts with its first byte. */
  answered(socket: Socket | null): void {
    const state = socket === null ? undefined : this.#sockets.get(socket);
    if (state === undefined || --state.inflight > 0 || state.headDeadline === MULTIPLEXED) return;
    state.headDeadline = IDLE;
    state.idleBytes = -1;
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  /** Guards every connection the server accepts, until the server closes. */
  attach(server: Server, event: 'connection' | 'secureConnection' = 'connection'): void {
    // A TLS listener's requests arrive on the TLS socket: that one is guarded, once its handshake is done
    // (the handshake itself is bounded by the server's handshakeTimeout).
    server.on(event, (socket: Socket) => this.admit(socket));
    this.#servers++;
    // Listeners share one guard: its sweep stops with the last of them.
    server.once('close', () => {
      if (--this.#servers === 0) this.close();
    });
  }

  #expire(): void {
    this.#now = nowMs();
    // forEach with one callback made at construction: a for-of over the entries would allocate an [key, value]
    // pair per connection at every sweep (10,000 a second with 10,000 idle clients).
    this.#sockets.forEach(this.#expireOne);
  }

  readonly #expireOne = (state: GuardState, socket: Socket): void => {
    if (state.headDeadline === IDLE) {
      // Keep-alive idleness is Node's keepAliveTimeout; a new head starts when bytes arrive again.
      const read = socket.bytesRead;
      if (state.idleBytes !== -1 && read !== state.idleBytes)
        state.headDeadline = this.#now + this.#options.headersTimeoutMs;
      state.idleBytes = read;
      return;
    }
    if (
      state.headDeadline === RUNNING ||
      state.headDeadline === MULTIPLEXED ||
      state.headDeadline > this.#now
    )
      return;
    if (socket.writable && state.inflight === 0) socket.write(requestTimeoutAnswer);
    socket.destroy();
  };
}
