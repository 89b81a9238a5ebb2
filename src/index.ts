/**
 * Portico as a library: start a gateway node from a config file, or load and validate a config.
 *
 * @example
 * import { startGateway } from 'portico';
 * const gateway = await startGateway({ configFile: 'portico.yaml' });
 * process.on('SIGTERM', () => void gateway.shutdown());
 */
export { startGateway, type Gateway, type GatewayOptions } from './gateway/gateway.ts';
export { loadConfig, parseConfig } from './config/load.ts';
export {
  ConfigError,
  formatConfigIssues,
  type ConfigIssue,
  type ReloadResult,
} from './config/config-error.ts';
export type { Config, RouteConfig, ServiceConfig } from './config/schema.ts';
export { errorCatalog, type ErrorCode } from './errors/catalog.ts';
export { PorticoError } from './errors/portico-error.ts';
export {
  definePlugin,
  setUpstreamHeader,
  upstreamPathOf,
  type PluginContext,
  type PluginDefinition,
} from './gateway/plugins/define-plugin.ts';
export type { Handler, Phase, Stage } from './gateway/pipeline/stage.ts';
export type { RequestContext } from './gateway/pipeline/request-context.ts';
export { Type, type Static, type TSchema } from '@sinclair/typebox';
