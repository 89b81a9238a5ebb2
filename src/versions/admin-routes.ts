import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../admin/admin-route.ts';
import { readJsonBody, sendJson } from '../admin/json-body.ts';
import { PorticoError } from '../errors/portico-error.ts';
import type { Config } from '../config/schema.ts';
import { USAGE_RETENTION_DAYS } from '../store/version-store.ts';
import type { VersionTracking } from './version-tracking.ts';
import type { ResponseReports } from './response-reports.ts';

const VERSION_TEXT = /^\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$/;
const MAJOR_TEXT = /^(0|[1-9][0-9]{0,5})$/;

/**
 * `GET /v1/services/{service}/versions/{version}/usage?days=30`: who still calls a version (a major `1`, a minor
 * `1.4` or an exact `1.4.0`), summed over every node of the store, busiest consumer first, with how many
 * consumers are pinned to its major; and the consumer pins: `GET /v1/services/{service}/pins`,
 * `PUT /v1/services/{service}/pins/{consumer}` (`{"version":"2"}`, moves a consumer) and `DELETE` (unpins).
 *
 * @example
 * adminRoutes.push(...createVersionAdminRoutes(tracking));
 */
export function createVersionAdminRoutes(tracking: VersionTracking): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/services/{service}/versions/{version}/usage',
      handler: async function versionUsage(_req, res, { params, url }) {
        const { service = '', version = '' } = params;
        if (!VERSION_TEXT.test(version))
          throw new PorticoError('bad_request', `"${version}" is not a version (1, 1.4 or 1.4.0)`, {
            field: 'version',
          });
        const daysText = url.searchParams.get('days') ?? '30';
        const days = Number(daysText);
        if (!Number.isInteger(days) || days < 1 || days > USAGE_RETENTION_DAYS)
          throw new PorticoError(
            'bad_request',
            `days must be a whole number from 1 to ${USAGE_RETENTION_DAYS}`,
            {
              field: 'days',
            },
          );
        const report = await tracking.usage(service, version, days);
        const major = version.split('.')[0];
        const pinned = (await tracking.pins(service)).filter((pin) => pin.version === major).length;
        const requests = report.consumers.reduce((sum, line) => sum + line.requests, 0);
        sendJson(res, 200, {
          service,
          version,
          scope: report.scope,
          days,
          versions: report.versions,
          requests,
          pinnedConsumers: pinned,
          consumers: report.consumers.map((line) => ({
            ...line,
            lastSeenAt: new Date(line.lastSeenAt).toISOString(),
          })),
        });
      },
    },
    {
      method: 'GET',
      path: '/v1/services/{service}/pins',
      handler: async function versionPins(_req, res, { params }) {
        const service = params.service ?? '';
        const pins = await tracking.pins(service);
        const byVersion: Record<string, number> = {};
        for (const pin of pins) byVersion[pin.version] = (byVersion[pin.version] ?? 0) + 1;
        sendJson(res, 200, {
          service,
          byVersion,
          pins: pins.map((pin) => ({ ...pin, pinnedAt: new Date(pin.pinnedAt).toISOString() })),
        });
      },
    },
    {
      method: 'PUT',
      path: '/v1/services/{service}/pins/{consumer}',
      handler: async function movePin(req, res, { params }) {
        const body = await readJsonBody(req, 4_096);
        const version = (body as { version?: unknown } | null)?.version;
        if (typeof version !== 'string' || !MAJOR_TEXT.test(version))
          throw new PorticoError('bad_request', 'expected {"version": "<major>"}, such as {"version": "2"}', {
            field: 'version',
          });
        const pin = await tracking.movePin(params.service ?? '', params.consumer ?? '', version);
        sendJson(res, 200, {
          service: params.service,
          ...pin,
          pinnedAt: new Date(pin.pinnedAt).toISOString(),
        });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/services/{service}/pins/{consumer}',
      handler: async function removePin(_req, res, { params }) {
        const removed = await tracking.removePin(params.service ?? '', params.consumer ?? '');
        if (!removed)
          throw new PorticoError(
            'not_found',
            `consumer "${params.consumer}" has no pin for "${params.service}"`,
          );
        res.writeHead(204).end();
      },
    },
  ];
}

/**
 * Logs, for every version the config marks deprecated, how many consumers are still pinned to it: the
 * people to tell before the sunset.
 */
export async function reportPinnedDeprecations(
  config: Config,
  tracking: VersionTracking,
  log: (fields: Record<string, unknown>, message: string) => void,
): Promise<void> {
  for (const [service, serviceConfig] of Object.entries(config.services)) {
    const deprecated = Object.entries(serviceConfig.versions ?? {}).filter(
      ([, policy]) => policy.deprecated !== undefined,
    );
    if (deprecated.length === 0) continue;
    const pins = await tracking.pins(service);
    for (const [major, policy] of deprecated) {
      const pinned = pins.filter((pin) => pin.version === major).length;
      if (pinned > 0)
        log(
          { service, version: major, pinnedConsumers: pinned, sunset: policy.sunset },
          'deprecated version still has pinned consumers',
        );
    }
  }
}

/**
 * `portico_version_requests_total{service,version,consumer}` from the usage table and
 * `portico_contract_response_violations_total{route,service}` from the response reports, read at scrape time.
 */
export function registerVersionMetrics(
  registry: MetricsRegistry,
  reports: ResponseReports,
  tracking: VersionTracking,
): void {
  new Counter({
    name: 'portico_version_requests_total',
    help: 'Requests served per service version and consumer since the node started.',
    labelNames: ['service', 'version', 'consumer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const line of tracking.table.entries())
        this.inc({ service: line.service, version: line.version, consumer: line.consumer }, line.requests);
    },
  });
  new Counter({
    name: 'portico_contract_response_violations_total',
    help: 'Answers that did not match the contract, per route (validate: request-and-response, report-only).',
    labelNames: ['route', 'service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const line of reports.entries())
        this.inc({ route: line.route, service: line.service }, line.answers);
    },
  });
}
