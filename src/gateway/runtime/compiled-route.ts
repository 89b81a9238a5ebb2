import type { RouteConfig } from '../../config/schema.ts';
import type { RouteStats } from '../../observability/route-stats.ts';
import type { Handler } from '../pipeline/stage.ts';
import type { ServiceRuntime } from './service-runtime.ts';

/** A route compiled once from config: everything a request needs, resolved ahead of time. */
export interface CompiledRoute {
  readonly name: string;
  readonly config: RouteConfig;
  readonly service: ServiceRuntime;
  /** The route's stages and terminal service linked into one function. */
  readonly handler: Handler;
  /** The same stages ending in the WebSocket relay, for Upgrade requests; undefined unless `websocket`. */
  readonly upgradeHandler: Handler | undefined;
  /** Builds the upstream path (prefix stripped, rewritten) from the normalised path and params. */
  readonly upstreamPath: (path: string, params: Readonly<Record<string, string>>) => string;
  readonly preserveHost: boolean;
  readonly websocket: boolean;
  /** Overall deadline in ms, or 0 for none. */
  readonly deadlineMs: number;
  readonly stats: RouteStats;
}
