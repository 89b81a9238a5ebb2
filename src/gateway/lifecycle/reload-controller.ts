import { ConfigError, type ReloadResult } from '../../config/config-error.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../observability/logger.ts';
import { retiredInstances, type Runtime } from '../runtime/compile-runtime.ts';
import type { Instance } from '../upstream/instance.ts';

/** What {@link createReloadController} needs from the node. */
export interface ReloadControllerOptions {
  /** Builds a runtime table; `previous` lends it warm pools and health state. Throws to refuse the config. */
  compile(config: Config, previous: Runtime | undefined): Runtime;
  /** Reads the config a plain `reload()` applies (the config file, or the store's latest revision). */
  load(): Promise<Config>;
  /** Names the source in the issue of a failure that is not a ConfigError. */
  readonly source: string;
  /**
   * The swap, for the start-up table and each reload: `table` now serves and takes over the node state (it opens
   * what it claimed, disposes and prunes what only `previous` held). Not called for a refused config.
   */
  commit(table: Runtime, previous: Runtime | undefined): void;
  /** An instance the new table no longer has; its pool is closed by the controller right after. */
  onRetire(instance: Instance): void;
  /** After each reload's swap, with the table now serving. */
  onSwap(table: Runtime): void;
  /** Counts a reload outcome. */
  onResult(result: 'applied' | 'rejected'): void;
  readonly logger: Logger;
}

/** Owns the node's runtime table: the first compile, then serialised reloads that swap it in one step. */
export interface ReloadController {
  /** The table requests read; undefined only before {@link start}. */
  peek(): Runtime | undefined;
  /** The table requests read (after {@link start}). */
  table(): Runtime;
  /** Compiles the start-up config and starts its health checkers; throws what compiling throws. */
  start(config: Config): Runtime;
  /**
   * Loads (with `load`, or the controller's own source), compiles and swaps; a refused config leaves the running
   * table in place. Reloads run one at a time: a trigger during a reload waits for it, then loads again.
   */
  reload(load?: () => Promise<Config>): Promise<ReloadResult>;
  /** Waits for a reload in progress, so shutdown closes the table that serves. */
  settled(): Promise<void>;
}

/**
 * The reload path of traefik's shape: compile a complete new table, swap one reference, retire what only the old
 * table owned. Requests in flight finish on the table they started with; retired pools close after their last
 * request (undici's close waits for them).
 *
 * @example
 * const reloads = createReloadController({ compile, load: () => loadConfig(file), source: file, ...hooks });
 * reloads.start(config);
 * const result = await reloads.reload();
 */
export function createReloadController(options: ReloadControllerOptions): ReloadController {
  let current: Runtime | undefined;
  let reloading: Promise<ReloadResult> | undefined;

  async function apply(load: () => Promise<Config>): Promise<ReloadResult> {
    const previous = current as Runtime;
    let table: Runtime;
    try {
      // Compiling can still refuse what validation let through (a route pattern, a contract): the running
      // table stays in both cases.
      table = options.compile(await load(), previous);
    } catch (err) {
      const error =
        err instanceof ConfigError
          ? err
          : new ConfigError([
              { file: options.source, path: '', message: err instanceof Error ? err.message : String(err) },
            ]);
      options.onResult('rejected');
      options.logger.error({ issues: error.issues }, 'config reload rejected; the running config stays');
      return { ok: false, error };
    }
    for (const checker of previous.healthCheckers) await checker.stop();
    current = table;
    options.commit(table, previous);
    for (const checker of table.healthCheckers) checker.start();
    for (const instance of retiredInstances(previous, table)) {
      options.onRetire(instance);
      void instance.close();
    }
    options.onSwap(table);
    options.onResult('applied');
    options.logger.info({ routes: table.routes.length, services: table.services.size }, 'config reloaded');
    return { ok: true };
  }

  return {
    peek: () => current,
    table: () => current as Runtime,
    start(config) {
      current = options.compile(config, undefined);
      options.commit(current, undefined);
      for (const checker of current.healthCheckers) checker.start();
      return current;
    },
    async reload(load = options.load) {
      while (reloading !== undefined) await reloading;
      reloading = apply(load);
      try {
        return await reloading;
      } finally {
        reloading = undefined;
      }
    },
    async settled() {
      while (reloading !== undefined) await reloading.catch(() => undefined);
    },
  };
}
