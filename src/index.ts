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
