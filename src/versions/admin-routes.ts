import { Counter, type Registry as MetricsRegistry } from 'prom-client';
import type { AdminRoute } from '../admin/admin-route.ts';
import { sendJson } from '../admin/json-body.ts';
import { PorticoError } from '../errors/portico-error.ts';
import { usageTable } from '../gateway/stages/version-stage.ts';
import { responseReports } from './response-reports.ts';

const VERSION_TEXT = /^\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$/;

/**
 * `GET /v1/services/{service}/versions/{version}/usage`: who still calls a version (a major `1`, a minor `1.4`
 * or an exact `1.4.0`), busiest consumer first.
 *
 * @example
 * adminRoutes.push(...createVersionAdminRoutes(stageState));
 */
export function createVersionAdminRoutes(shared: Map<string, unknown>): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/services/{service}/versions/{version}/usage',
      handler: function versionUsage(_req, res, { params }) {
        const { service = '', version = '' } = params;
        if (!VERSION_TEXT.test(version))
          throw new PorticoError('bad_request', `"${version}" is not a version (1, 1.4 or 1.4.0)`, {
            field: 'version',
          });
        const { versions, consumers } = usageTable(shared).forVersion(service, version);
        const requests = consumers.reduce((sum, line) => sum + line.requests, 0);
        sendJson(res, 200, {
          service,
          version,
          versions,
          requests,
          consumers: consumers.map((line) => ({
            ...line,
            lastSeenAt: new Date(line.lastSeenAt).toISOString(),
          })),
        });
      },
    },
  ];
}

/**
 * `portico_version_requests_total{service,version,consumer}` from the usage table and
 * `portico_contract_response_violations_total{route,service}` from the response reports, read at scrape time.
 */
export function registerVersionMetrics(registry: MetricsRegistry, shared: Map<string, unknown>): void {
  new Counter({
    name: 'portico_version_requests_total',
    help: 'Requests served per service version and consumer since the node started.',
    labelNames: ['service', 'version', 'consumer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const line of usageTable(shared).entries())
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
      for (const line of responseReports(shared).entries())
        this.inc({ route: line.route, service: line.service }, line.answers);
    },
  });
}
