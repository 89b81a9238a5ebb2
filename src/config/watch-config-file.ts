import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '../observability/logger.ts';

/** How long the watcher waits; tests widen the intervals. */
export interface ConfigWatchTiming {
  /** Quiet time after the last change event before the file is looked at. */
  readonly settleMs: number;
  /** The file must keep its size and modification time across one such interval before it is read. */
  readonly stableCheckMs: number;
  /** A file still changing after this long is read anyway (a reload refuses what does not parse). */
  readonly maxWaitMs: number;
}

const DEFAULT_TIMING: ConfigWatchTiming = { settleMs: 100, stableCheckMs: 50, maxWaitMs: 2000 };

/**
 * Calls `onChange` once a burst of writes to `file` has settled: 100 ms without a change event, then the same
 * size and modification time across 50 ms (at most 2 s), so a file rewritten in place by a slow writer is not
 * read half-written (a truncated route list can still be a valid config). The folder is watched, not the
 * file: editors replace files by rename, which ends a watch on the file itself.
 *
 * @example const watcher = watchConfigFile('portico.yaml', () => void reload(), logger); // later: watcher.close()
 */
export function watchConfigFile(
  file: string,
  onChange: () => void,
  logger: Logger,
  timing: ConfigWatchTiming = DEFAULT_TIMING,
): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const name = basename(file);

  const signature = async (): Promise<string> => {
    try {
      const info = await stat(file);
      return `${info.size}:${info.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  const whenStable = async (): Promise<void> => {
    const deadline = Date.now() + timing.maxWaitMs;
    let before = await signature();
    while (!closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, timing.stableCheckMs));
      const after = await signature();
      if (after === before) break;
      before = after;
    }
    // A newer change event restarted the wait; that one reloads.
    if (!closed && timer === undefined) onChange();
  };

  const watcher = watch(dirname(file), (_event, changed) => {
    if (changed !== name) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void whenStable();
    }, timing.settleMs);
  });
  watcher.on('error', (err) => logger.warn({ err }, 'config watch failed'));
  // A debounce still pending at close would reload after shutdown.
  watcher.on('close', () => {
    closed = true;
    clearTimeout(timer);
  });
  return watcher;
}
