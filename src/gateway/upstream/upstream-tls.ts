import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ServiceTlsConfig } from '../../config/schema.ts';

/**
 * TLS options towards a service's `https://` instances, in the shape both undici's `connect` and
 * node:https's `request` take, so the proxy, health checks and WebSocket upgrades verify alike.
 */
export interface UpstreamTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
  readonly rejectUnauthorized: boolean;
}

/**
 * Reads a service's `tls` files (paths relative to `baseDir`, the config file's folder). Throws with the
 * file's path when one cannot be read, so a reload is rejected and start-up stops with the reason.
 */
export function loadUpstreamTls(
  config: ServiceTlsConfig | undefined,
  baseDir: string,
): UpstreamTls | undefined {
  if (config === undefined) return undefined;
  const read = (file: string): string => {
    const path = resolve(baseDir, file);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause: err,
      });
    }
  };
  return {
    ...(config.ca === undefined ? {} : { ca: read(config.ca) }),
    ...(config.cert === undefined ? {} : { cert: read(config.cert) }),
    ...(config.key === undefined ? {} : { key: read(config.key) }),
    ...(config.serverName === undefined ? {} : { servername: config.serverName }),
    rejectUnauthorized: config.rejectUnauthorized,
  };
}

/** Whether an error code says the TLS handshake with an instance failed (shared with the failure classifier). */
export { isTlsFailure } from '../../resilience/upstream-failure.ts';
