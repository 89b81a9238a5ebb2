import type { JsonObject } from '../contracts/contract.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * A self-contained API reference page for a catalogue document (see {@link buildCatalog}): one section per
 * service tag, one block per operation with its parameters, request body and responses. Plain HTML with inline
 * CSS: nothing is fetched from elsewhere and no script runs.
 *
 * @example
 * res.end(renderCatalogHtml(buildCatalog(runtime, book)));
 */
export function renderCatalogHtml(document: JsonObject): string {
  const info = (document.info ?? {}) as JsonObject;
  const paths = (document.paths ?? {}) as Record<string, JsonObject>;
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method] as JsonObject | undefined;
      if (operation === undefined) continue;
      const tag = String((operation.tags as unknown[] | undefined)?.[0] ?? 'other');
      let blocks = byTag.get(tag);
      if (blocks === undefined) byTag.set(tag, (blocks = []));
      blocks.push(renderOperation(document, method, path, operation));
    }
  }
  const sections = [...byTag.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([tag, blocks]) =>
        `<section id="${attr(`tag-${tag}`)}"><h2>${text(tag)}</h2>\n${blocks.join('\n')}</section>`,
    );
  const toc = [...byTag.keys()]
    .sort()
    .map(
      (tag) => `<li><a href="#${attr(`tag-${tag}`)}">${text(tag)}</a> (${byTag.get(tag)?.length ?? 0})</li>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${text(String(info.title ?? 'API catalogue'))}</title>
<style>${STYLE}</style></head>
<body><header><h1>${text(String(info.title ?? 'API catalogue'))}</h1>
<p>${text(String(info.description ?? ''))} The same content as OpenAPI: <a href="catalog">/v1/catalog</a>.</p>
<nav><ul>${toc}</ul></nav></header>
<main>${sections.length === 0 ? '<p>No service publishes a contract yet.</p>' : sections.join('\n')}</main>
</body></html>
`;
}

function renderOperation(document: JsonObject, method: string, path: string, operation: JsonObject): string {
  const meta = (operation['x-portico'] ?? {}) as JsonObject;
  const summary = operation.summary ?? operation.description;
  const parameters = ((operation.parameters ?? []) as unknown[]).map((p) => resolve(document, p));
  const rows = parameters
    .map(
      (p) =>
        `<tr><td><code>${text(String(p.name))}</code></td><td>${text(String(p.in))}</td><td>${
          p.required === true || p.in === 'path' ? 'yes' : 'no'
        }</td><td>${text(typeOf(document, p.schema))}</td><td>${text(String(p.description ?? ''))}</td></tr>`,
    )
    .join('');
  const body = operation.requestBody === undefined ? undefined : resolve(document, operation.requestBody);
  const bodyHtml =
    body === undefined
      ? ''
      : `<h4>Request body${body.required === true ? ' (required)' : ''}</h4><ul>${Object.entries(
          (body.content ?? {}) as JsonObject,
        )
          .map(
            ([type, media]) =>
              `<li><code>${text(type)}</code> ${text(typeOf(document, (media as JsonObject | null)?.schema))}</li>`,
          )
          .join('')}</ul>`;
  const responses = Object.entries((operation.responses ?? {}) as JsonObject)
    .map(([status, response]) => {
      const resolved = resolve(document, response);
      return `<li><code>${text(status)}</code> ${text(String(resolved.description ?? ''))}</li>`;
    })
    .join('');
  return `<article class="op"><h3><span class="m m-${method}">${method.toUpperCase()}</span> <code>${text(path)}</code>${
    operation.deprecated === true ? ' <span class="dep">deprecated</span>' : ''
  }</h3>
<p class="meta">version ${text(String(meta.version ?? ''))} · route ${text(String(meta.route ?? ''))}</p>
${summary === undefined ? '' : `<p>${text(String(summary))}</p>`}
${rows === '' ? '' : `<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Required</th><th>Type</th><th>Description</th></tr>${rows}</table>`}
${bodyHtml}${responses === '' ? '' : `<h4>Responses</h4><ul>${responses}</ul>`}</article>`;
}

/** Follows a local `$ref` (a few hops at most) so the page shows the target's fields. */
function resolve(document: JsonObject, node: unknown): JsonObject {
  let current = node;
  for (let hops = 0; hops < 8; hops++) {
    const ref = (current as JsonObject | null)?.$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/')) break;
    current = ref
      .slice(2)
      .split('/')
      .map((part) => decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<unknown>((value, key) => (value as JsonObject | undefined)?.[key], document);
  }
  return current !== null && typeof current === 'object' ? (current as JsonObject) : {};
}

/** A short type label: `string`, `array of Order`, `Order`. */
function typeOf(document: JsonObject, schema: unknown): string {
  if (schema === undefined || schema === null || typeof schema !== 'object') return '';
  const ref = (schema as JsonObject).$ref;
  if (typeof ref === 'string') return ref.slice(ref.lastIndexOf('/') + 1).replace(/^.*?_v\d+_/, '');
  const object = schema as JsonObject;
  if (object.type === 'array') return `array of ${typeOf(document, object.items) || 'any'}`;
  if (Array.isArray(object.type)) return object.type.join(' | ');
  if (Array.isArray(object.enum)) return `one of ${object.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  return typeof object.type === 'string' ? object.type : 'object';
}

function text(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function attr(value: string): string {
  return text(value.replace(/\s+/g, '-'));
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#f7f8fa}
header{background:#1d2330;color:#fff;padding:1.5rem 2rem}header a{color:#9cc3ff}
nav ul{list-style:none;padding:0;display:flex;gap:1rem;flex-wrap:wrap}
main{padding:1rem 2rem;max-width:70rem}
.op{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.op h3{margin:.3rem 0;font-size:1.05rem}.meta{color:#667;font-size:.85rem;margin:0}
.m{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font-size:.8rem;padding:.1rem .3rem}
.m-get{background:#2f7d32}.m-post{background:#1565c0}.m-put{background:#8e5b00}.m-patch{background:#6a3ea1}
.m-delete{background:#b3261e}.m-head,.m-options,.m-trace{background:#555}
.dep{color:#b3261e;font-size:.8rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #eee;text-align:left;padding:.2rem .5rem;vertical-align:top}
code{font-family:ui-monospace,monospace}`;
