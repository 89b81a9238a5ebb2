import type { IncomingMessage, ServerResponse } from 'node:http';
import { PorticoError } from '../errors/portico-error.ts';
import type { AdminContext } from '../admin/admin-route.ts';
import type { RegistryChange, RegistrySnapshot } from '../store/registry-store.ts';
import type { Registry } from './registry.ts';

/** Options of {@link createWatchHandler}. */
export interface WatchOptions {
  /** Idle time after which a keep-alive comment is sent. Default 15000. */
  readonly keepAliveMs?: number;
  /**
   * A watcher whose unsent output grows beyond this (not counting its initial snapshot) is disconnected; it
   * resumes with Last-Event-ID. Default 4 MiB.
   */
  readonly maxBufferedBytes?: number;
}

/** Frames are the same text for every watcher, so each change is serialised once however many watch it. */
const frameCache = new WeakMap<RegistryChange, string>();

function changeFrame(change: RegistryChange): string {
  let frame = frameCache.get(change);
  if (frame === undefined) {
    frame = `id: ${change.revision}\nevent: ${change.kind}\ndata: ${JSON.stringify(change)}\n\n`;
    frameCache.set(change, frame);
  }
  return frame;
}

function snapshotFrame(snapshot: RegistrySnapshot): string {
  return `id: ${snapshot.revision}\nevent: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
}

/**
 * `GET /v1/watch?since=R&service=NAME`: the registry's changes as server-sent events in revision order.
 * `id:` is the revision, `event:` is `upsert`, `delete` or `snapshot`, `data:` the change (or the snapshot) as JSON.
 *
 * The stream subscribes before it replays, holding live changes until the replay is written, so nothing falls in
 * between. Writes never wait for the client: a watcher that cannot keep up is cut once its buffer passes the bound.
 */
export function createWatchHandler(
  registry: Registry,
  options: WatchOptions = {},
): (req: IncomingMessage, res: ServerResponse, ctx: AdminContext) => Promise<void> {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1_048_576;

  return async function watchRegistry(req, res, ctx) {
    const since = parseRevision(req.headers['last-event-id'], ctx.url.searchParams.get('since'));
    const service = ctx.url.searchParams.get('service') ?? undefined;

    let held: RegistryChange[] | undefined = [];
    /** Highest revision this watcher has accounted for, sent or filtered out. */
    let cursor = 0;
    /** Highest `id:` the client has seen. */
    let announced = 0;
    let closed = false;
    /** A large snapshot may sit in the buffer without making the watcher slow; forgotten once it drains. */
    let snapshotAllowance = 0;
    /** A resync happened during the replay: the replay is void and a snapshot follows it. */
    let resynced = false;

    const write = (frame: string): void => {
      if (closed) return;
      res.write(frame);
      if (res.writableLength > maxBuffered + snapshotAllowance) cut();
    };
    const send = (change: RegistryChange): void => {
      if (change.revision <= cursor) return;
      cursor = change.revision;
      if (service !== undefined && change.service !== service) return;
      announced = change.revision;
      write(changeFrame(change));
    };
    const sendSnapshot = (): void => {
      const snapshot = registry.snapshot();
      const instances =
        service === undefined ? snapshot.instances : snapshot.instances.filter((i) => i.service === service);
      cursor = announced = snapshot.revision;
      const frame = snapshotFrame({ revision: snapshot.revision, instances });
      snapshotAllowance = Buffer.byteLength(frame);
      write(frame);
    };

    const unsubscribe = registry.subscribe(
      (change) => {
        if (held !== undefined) held.push(change);
        else send(change);
      },
      { service },
    );
    // After a resync the registry's copy was replaced (and its revision may have gone down): every watcher starts
    // over from a snapshot, whatever it had announced before.
    const unsubscribeResync = registry.onResync(() => {
      if (held !== undefined) {
        held = [];
        resynced = true;
        return;
      }
      cursor = 0;
      sendSnapshot();
    });
    const keepAlive = setInterval(() => {
      // An `id:` line without data moves the client's Last-Event-ID past changes it filtered out, without an event.
      const frame = cursor > announced ? `: keep-alive\nid: ${cursor}\n\n` : ': keep-alive\n\n';
      announced = cursor;
      write(frame);
    }, keepAliveMs);
    keepAlive.unref();
    const stop = (): void => {
      closed = true;
      held = undefined;
      clearInterval(keepAlive);
      unsubscribe();
      unsubscribeResync();
    };
    const cut = (): void => {
      stop();
      res.destroy();
    };
    res.on('close', stop);
    res.on('drain', () => {
      snapshotAllowance = 0;
    });

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();

    if (since === undefined || since === 0 || since > registry.revision) {
      sendSnapshot();
    } else {
      let changes: RegistryChange[] | undefined;
      try {
        changes = await registry.changesSince(since);
      } catch {
        changes = undefined;
      }
      if (closed) return;
      if (changes === undefined) sendSnapshot();
      else {
        cursor = since;
        announced = since;
        for (const change of changes) send(change);
      }
    }
    if (closed) return;
    if (resynced) sendSnapshot();
    const pending = held;
    held = undefined;
    for (const change of pending ?? []) send(change);
  };
}

/** Last-Event-ID wins over `since`, as an EventSource reconnect sends both. */
function parseRevision(header: string | string[] | undefined, query: string | null): number | undefined {
  const raw = typeof header === 'string' && header !== '' ? header : query;
  if (raw === null || raw === '') return undefined;
  if (!/^[0-9]{1,15}$/.test(raw)) {
    throw new PorticoError('bad_request', 'since and Last-Event-ID must be a revision number', {
      field: 'since',
    });
  }
  return Number(raw);
}
