import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One file of the dashboard, read once and kept in memory. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

const contentTypes: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/**
 * Everything is served from this origin and nothing runs inline, so the page can forbid the rest: registry data
 * (service names, metadata, contracts) is written by registrants and must never become script.
 */
const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/**
 * Reads the named files of `dir` (the dashboard's assets, next to this module in `src/` and in `dist/` alike) on
 * first use and caches them; later calls share the same promise.
 */
export function createAssetStore(
  dir: URL,
  names: readonly string[],
): () => Promise<Map<string, StaticAsset>> {
  let loading: Promise<Map<string, StaticAsset>> | undefined;
  return () => {
    loading ??= (async () => {
      const assets = new Map<string, StaticAsset>();
      for (const name of names) {
        const body = await readFile(new URL(name, dir));
        const extension = name.slice(name.lastIndexOf('.') + 1);
        assets.set(name, {
          body,
          contentType: contentTypes[extension] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        });
      }
      return assets;
    })();
    void loading.catch(() => (loading = undefined));
    return loading;
  };
}

/** Sends an asset with revalidation (`no-cache` + ETag), so an upgraded gateway never serves a stale page. */
export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: StaticAsset): void {
  const headers = {
    ...securityHeaders,
    'content-type': asset.contentType,
    'cache-control': 'no-cache',
    etag: asset.etag,
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
