import { request } from 'undici';
import type { RegistryConnection, RegistryInstance } from './registry-connection.ts';
import { SseParser } from './sse-parser.ts';

/** Options of {@link ServiceWatch}. */
export interface ServiceWatchOptions {
  /** First reconnect delay; doubles up to `maxReconnectMs`, with jitter. Default 100. */
  readonly reconnectMs?: number | undefined;
  readonly maxReconnectMs?: number | undefined;
  /** Told about dropped streams (the watch reconnects by itself). */
  readonly onError?: ((error: Error) => void) | undefined;
}

interface ChangeData {
  readonly kind: 'upsert' | 'delete';
  readonly id: string;
  readonly instance: RegistryInstance;
}

/**
 * A local copy of one service's instances, kept current by `GET /v1/watch?service=NAME`: the stream starts with
 * a snapshot, then applies changes; after a disconnect it resumes with `Last-Event-ID` (the registry replays
 * what was missed, or sends a new snapshot that replaces the copy). Reads never touch the network.
 */
export class ServiceWatch {
  readonly service: string;
  readonly #connection: RegistryConnection;
  readonly #options: ServiceWatchOptions;
  readonly #instances = new Map<string, RegistryInstance>();
  readonly #listeners = new Set<() => void>();
  readonly #parser = new SseParser();
  readonly #abort = new AbortController();
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #isReady = false;
  #closed = false;

  constructor(connection: RegistryConnection, service: string, options: ServiceWatchOptions = {}) {
    this.service = service;
    this.#connection = connection;
    this.#options = options;
    this.#ready = new Promise((resolve) => (this.#resolveReady = resolve));
    void this.#run();
  }

  /** Resolves once the first snapshot arrived. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  get isReady(): boolean {
    return this.#isReady;
  }

  /** The current instances (every status). */
  instances(): IterableIterator<RegistryInstance> {
    return this.#instances.values();
  }

  /** Calls `listener` after every change to the copy; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      try {
        await this.#stream();
        failures = 0;
      } catch (err) {
        if (this.#closed) return;
        failures++;
        this.#options.onError?.(err as Error);
      }
      if (this.#closed) return;
      const base = this.#options.reconnectMs ?? 100;
      const ceiling = Math.min(this.#options.maxReconnectMs ?? 2_000, base * 2 ** Math.min(failures, 10));
      await new Promise((resolve) =>
        setTimeout(resolve, ceiling / 2 + (Math.random() * ceiling) / 2).unref(),
      );
    }
  }

  async #stream(): Promise<void> {
    const lastId = this.#parser.lastEventId;
    const res = await request(
      `${this.#connection.url}/v1/watch?service=${encodeURIComponent(this.service)}`,
      {
        method: 'GET',
        headers: this.#connection.headers(lastId === undefined ? {} : { 'last-event-id': lastId }),
        dispatcher: this.#connection.agent,
        signal: this.#abort.signal,
        // The stream is idle between changes (keep-alives every 15 s); only a dead connection should end it.
        bodyTimeout: 60_000,
      },
    );
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`registry watch answered ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    this.#parser.reset();
    res.body.setEncoding('utf8');
    for await (const chunk of res.body as AsyncIterable<string>) {
      for (const event of this.#parser.push(chunk)) this.#apply(event.event, event.data);
    }
  }

  #apply(event: string, data: string): void {
    if (event === 'snapshot') {
      const snapshot = JSON.parse(data) as { instances: RegistryInstance[] };
      this.#instances.clear();
      for (const instance of snapshot.instances) {
        if (instance.service === this.service) this.#instances.set(instance.id, instance);
      }
      if (!this.#isReady) {
        this.#isReady = true;
        this.#resolveReady();
      }
    } else if (event === 'upsert' || event === 'delete') {
      const change = JSON.parse(data) as ChangeData;
      if (change.kind === 'delete') this.#instances.delete(change.id);
      else this.#instances.set(change.id, change.instance);
    } else {
      return;
    }
    for (const listener of this.#listeners) listener();
  }
}
