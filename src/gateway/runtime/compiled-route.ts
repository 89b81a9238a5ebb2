import type { RequestRoute } from '../pipeline/request-context.ts';
import type { Handler } from '../pipeline/stage.ts';

/** A route compiled once from config: everything a request needs, resolved ahead of time. */
export interface CompiledRoute extends RequestRoute {
  /** The route's stages and terminal service linked into one function. */
  readonly handler: Handler;
  /** The same stages ending in the WebSocket relay, for Upgrade requests; undefined unless `websocket`. */
  readonly upgradeHandler: Handler | undefined;
}
