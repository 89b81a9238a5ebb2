import { instancePath, type RegistryConnection } from './registry-connection.ts';

/** What a registration sends (docs/registry.md, "Register or update an instance"). */
export interface RegistrationBody {
  readonly url: string;
  /** `grpc` for a gRPC server; absent for HTTP/1.1. */
  readonly protocol?: 'grpc' | undefined;
  readonly version: string;
  readonly ttl: string;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  readonly healthCheck?: Readonly<Record<string, unknown>> | undefined;
  readonly contract?: unknown;
}

/** Options of {@link Registration}. */
export interface RegistrationOptions {
  readonly service: string;
  readonly id: string;
  readonly body: RegistrationBody;
  /** Time between heartbeats. */
  readonly heartbeatMs: number;
  /** Told about failed registry calls (the loop keeps going). */
  readonly onError: (error: Error) => void;
  /** Told when the instance was registered (again). */
  readonly onRegistered?: (() => void) | undefined;
}

/**
 * Keeps one instance registered: registers, heartbeats, registers again when a heartbeat answers 404 (the lease
 * ended, or the registry lost its data), and keeps trying while the registry is unreachable.
 */
export class Registration {
  readonly #connection: RegistryConnection;
  readonly #options: RegistrationOptions;
  readonly #path: string;
  #registered = false;
  #draining = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined = undefined;
  #tick: Promise<void> = Promise.resolve();

  constructor(connection: RegistryConnection, options: RegistrationOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#path = instancePath(options.service, options.id);
  }

  /** Whether the last registry answer said the instance is registered. */
  get registered(): boolean {
    return this.#registered;
  }

  /** Makes the first registration attempt and starts the heartbeat loop; resolves with whether it registered. */
  async start(): Promise<boolean> {
    this.#tick = this.#beat();
    await this.#tick;
    this.#schedule();
    return this.#registered;
  }

  /** Asks the registry to stop sending new traffic; the heartbeats go on so the lease outlives the drain. */
  async drain(): Promise<void> {
    this.#draining = true;
    await this.#tick;
    try {
      const answer = await this.#connection.call('POST', `${this.#path}/drain`);
      if (answer.status !== 200 && answer.status !== 404) throw answerError('drain', answer.status);
    } catch (err) {
      this.#options.onError(err as Error);
    }
  }

  /** Stops the heartbeats and removes the instance from the registry (best effort). */
  async deregister(): Promise<void> {
    this.stop();
    await this.#tick;
    try {
      const answer = await this.#connection.call('DELETE', this.#path);
      if (answer.status !== 204 && answer.status !== 404) throw answerError('deregister', answer.status);
    } catch (err) {
      this.#options.onError(err as Error);
    }
    this.#registered = false;
  }

  /** Stops the heartbeats without telling the registry (the lease runs out on its own). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.#beat().finally(() => this.#schedule());
    }, this.#options.heartbeatMs);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    try {
      if (this.#registered) {
        const answer = await this.#connection.call('PUT', `${this.#path}/heartbeat`);
        if (answer.status === 200) return;
        if (answer.status !== 404) throw answerError('heartbeat', answer.status);
        this.#registered = false;
        // A draining instance the registry forgot stays forgotten: registering it again would bring traffic back.
        if (this.#draining) return;
      }
      if (this.#draining || this.#stopped) return;
      const answer = await this.#connection.call('PUT', this.#path, this.#options.body);
      if (answer.status !== 200 && answer.status !== 201) {
        throw answerError('registration', answer.status, answer.body);
      }
      this.#registered = true;
      this.#options.onRegistered?.();
    } catch (err) {
      this.#options.onError(err as Error);
    }
  }
}

function answerError(what: string, status: number, body?: unknown): Error {
  const detail =
    typeof body === 'object' && body !== null && 'detail' in body ? `: ${String(body.detail)}` : '';
  return new Error(`registry ${what} answered ${status}${detail}`);
}
