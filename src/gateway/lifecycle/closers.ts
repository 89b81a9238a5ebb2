/** A step of shutdown, registered by a part of the node when that part has started. */
export type Closer = () => void | Promise<void>;

/**
 * The node's shutdown steps, run last-in-first-out: what started last stops first, so a part never outlives what
 * it depends on (fastify's `onClose`). A failing step is reported and the rest still run.
 *
 * @example
 * const closers = new CloserStack((name, err) => logger.error({ err, name }, 'close failed'));
 * const store = await openStore();
 * closers.add('store', () => store.close());
 * await closers.closeAll();
 */
export class CloserStack {
  readonly #steps: { name: string; close: Closer }[] = [];
  readonly #onError: (name: string, err: unknown) => void;
  #closing: Promise<void> | undefined;

  constructor(onError: (name: string, err: unknown) => void) {
    this.#onError = onError;
  }

  /** Registers `close` to run before everything registered earlier. */
  add(name: string, close: Closer): void {
    this.#steps.push({ name, close });
  }

  /** Runs every step once, newest first; later calls get the same promise. */
  closeAll(): Promise<void> {
    this.#closing ??= (async () => {
      for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
        try {
          await step.close();
        } catch (err) {
          this.#onError(step.name, err);
        }
      }
    })();
    return this.#closing;
  }
}
