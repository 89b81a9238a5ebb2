/**
 * Request/answer calls over a Node IPC channel (a cluster worker's `process`, or the primary's `Worker`
 * handle). Messages are plain JSON, tagged so that other users of the channel (cluster itself, prom-client)
 * can share it.
 */

/** One end of an IPC channel, as both `process` (in a worker) and a cluster `Worker` (in the primary) are. */
export interface IpcChannel {
  send(message: unknown, onError: (err: Error | null) => void): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** A handler answers with a value (sent back as JSON) or throws (the caller's promise rejects with its message). */
export type IpcHandler = (body: unknown) => unknown;

/**
 * Calls in both directions over one channel.
 *
 * @example
 * const peer = createIpcPeer(processChannel());
 * peer.handle('ping', () => 'pong');
 * await peer.request('status');
 */
export interface IpcPeer {
  request<T>(type: string, body?: unknown, timeoutMs?: number): Promise<T>;
  handle(type: string, handler: IpcHandler): void;
  /** Rejects every pending call (the channel is gone) and stops listening. */
  close(reason: string): void;
}

interface IpcMessage {
  readonly portico: 'req' | 'res';
  readonly id: number;
  readonly type: string;
  readonly body?: unknown;
  readonly error?: string;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** Creates the calling end of `channel`; each side of a channel creates one. */
export function createIpcPeer(channel: IpcChannel): IpcPeer {
  const pending = new Map<number, Pending>();
  const handlers = new Map<string, IpcHandler>();
  let nextId = 1;
  let closed: string | undefined;

  /** Removes a pending call (its answer, failure or timeout came first); undefined when already settled. */
  function take(id: number): Pending | undefined {
    const call = pending.get(id);
    if (call === undefined) return undefined;
    pending.delete(id);
    clearTimeout(call.timer);
    return call;
  }

  function fail(id: number, err: Error): void {
    take(id)?.reject(err);
  }

  function answer(request: IpcMessage, body: unknown, error: string | undefined): void {
    if (closed !== undefined) return;
    const message: IpcMessage =
      error === undefined
        ? { portico: 'res', id: request.id, type: request.type, body }
        : { portico: 'res', id: request.id, type: request.type, error };
    // The other side may be gone: nobody waits for this answer any more.
    channel.send(message, () => undefined);
  }

  function onMessage(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const message = raw as Partial<IpcMessage>;
    if (message.portico === 'res' && typeof message.id === 'number') {
      const call = take(message.id);
      if (message.error !== undefined) call?.reject(new Error(message.error));
      else call?.resolve(message.body);
      return;
    }
    if (message.portico !== 'req' || typeof message.type !== 'string') return;
    const request = message as IpcMessage;
    const handler = handlers.get(request.type);
    if (handler === undefined) {
      answer(request, undefined, `no handler for "${request.type}"`);
      return;
    }
    // The executor turns a sync throw into a rejection, so sync and async handlers answer the same way.
    new Promise((resolve) => resolve(handler(request.body))).then(
      (body: unknown) => answer(request, body, undefined),
      (err: unknown) => answer(request, undefined, messageOf(err)),
    );
  }

  channel.on('message', onMessage);

  return {
    request<T>(type: string, body?: unknown, timeoutMs?: number): Promise<T> {
      if (closed !== undefined) return Promise.reject(new Error(closed));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => fail(id, new Error(`"${type}" got no answer in ${timeoutMs} ms`)), timeoutMs);
        timer?.unref();
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        channel.send({ portico: 'req', id, type, body } satisfies IpcMessage, (err) => {
          if (err !== null) fail(id, err);
        });
      });
    },
    handle(type, handler) {
      handlers.set(type, handler);
    },
    close(reason) {
      if (closed !== undefined) return;
      closed = reason;
      channel.off('message', onMessage);
      for (const id of [...pending.keys()]) fail(id, new Error(reason));
    },
  };
}

/** The channel of this process to its parent (the cluster primary); undefined when there is none. */
export function parentChannel(): IpcChannel | undefined {
  if (typeof process.send !== 'function') return undefined;
  return {
    send(message, onError) {
      if (!process.connected) {
        onError(new Error('the IPC channel to the primary is closed'));
        return;
      }
      process.send?.(message, undefined, undefined, onError);
    },
    on: (event, listener) => process.on(event, listener),
    off: (event, listener) => process.off(event, listener),
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
