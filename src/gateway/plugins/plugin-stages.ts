import type { Config, RouteConfig } from '../../config/schema.ts';
import { PorticoError } from '../../errors/portico-error.ts';
import { configPlugins } from '../../plugins/load-plugins.ts';
import type { Phase } from '../../plugins/phases.ts';
import type { Stage } from '../pipeline/stage.ts';

/** A plugin's failure, answered as 500 `plugin_failed`; the server logs the plugin's name and the cause. */
export class PluginFailedError extends PorticoError {
  readonly plugin: string;

  constructor(plugin: string, cause: unknown) {
    super('plugin_failed', undefined, undefined, { cause });
    this.plugin = plugin;
  }
}

/** A route's plugin stage with the phase it belongs in. */
export interface PluginStage {
  readonly phase: Phase;
  readonly stage: Stage;
}

/**
 * Builds the stages of the plugins a route names, once per route when the config is compiled.
 *
 * @throws Error when a plugin's factory throws or returns no stage function (the config is refused).
 */
export function createPluginStages(route: RouteConfig, config: Config): PluginStage[] {
  if (route.plugins === undefined) return [];
  const plugins = configPlugins(config);
  const out: PluginStage[] = [];
  for (const [name, options] of Object.entries(route.plugins)) {
    const plugin = plugins.get(name);
    // loadConfigPlugins refused the config already; a config built in code without loading gets this.
    if (plugin === undefined)
      throw new Error(`route "${route.name}" uses plugin "${name}", which is not loaded`);
    let stage: unknown;
    try {
      stage = plugin.create(options, { route: route.name, service: route.service });
    } catch (err) {
      throw new Error(`plugin "${name}" failed to set up route "${route.name}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (typeof stage !== 'function')
      throw new Error(`plugin "${name}" returned no stage function for route "${route.name}"`);
    out.push({ phase: plugin.phase, stage: guardPluginStage(name, stage as Stage) });
  }
  return out;
}

/**
 * A plugin's own failure becomes a 500 `plugin_failed` answer and never takes the node down; a refusal it
 * throws on purpose (a PorticoError), and whatever the rest of the chain throws through it, pass unchanged.
 */
function guardPluginStage(name: string, stage: Stage): Stage {
  const guarded: Stage = async (ctx, next) => {
    try {
      await stage(ctx, next);
    } catch (err) {
      if (err instanceof PorticoError) throw err;
      throw new PluginFailedError(name, err);
    }
  };
  Object.defineProperty(guarded, 'name', { value: `plugin ${name}` });
  return guarded;
}
