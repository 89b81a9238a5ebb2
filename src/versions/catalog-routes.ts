import type { AdminRoute } from '../admin/admin-route.ts';
import { sendJson } from '../admin/json-body.ts';
import type { Runtime } from '../gateway/runtime/compile-runtime.ts';
import { buildCatalog } from './catalog.ts';
import { renderCatalogHtml } from './catalog-html.ts';
import type { ContractBook } from './contract-book.ts';

/**
 * `GET /v1/catalog` (the OpenAPI 3.1 document of everything the gateway exposes) and `GET /v1/catalog.html`
 * (the same as a reference page) on the admin listener. Built per call from the current runtime and the
 * registered contracts, after loads in progress finish.
 *
 * @example
 * adminRoutes.push(...createCatalogRoutes(() => current, book));
 */
export function createCatalogRoutes(runtime: () => Runtime, book: ContractBook | undefined): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/catalog',
      handler: async function catalog(_req, res) {
        await book?.settled();
        sendJson(res, 200, buildCatalog(runtime(), book));
      },
    },
    {
      method: 'GET',
      path: '/v1/catalog.html',
      handler: async function catalogPage(_req, res) {
        await book?.settled();
        const html = renderCatalogHtml(buildCatalog(runtime(), book));
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(html),
          // The page is generated here and carries no script: nothing else may run in it.
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        });
        res.end(html);
      },
    },
  ];
}
