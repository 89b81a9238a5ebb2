import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../observability/logger.ts';

/**
 * Calls `onChange` once a burst of writes to `file` has settled (100 ms). The folder is watched, not the
 * file: editors replace files by rename, which ends a watch on the file itself.
 *
 * @example const watcher = watchConfigFile('portico.yaml', () => void reload(), logger); // later: watcher.close()
 */
export function watchConfigFile(file: string, onChange: () => void, logger: Logger): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(file);
  const watcher = watch(dirname(file), (_event, changed) => {
    if (changed !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, 100);
  });
  watcher.on('error', (err) => logger.warn({ err }, 'config watch failed'));
  // A debounce still pending at close would reload after shutdown.
  watcher.on('close', () => clearTimeout(timer));
  return watcher;
}
