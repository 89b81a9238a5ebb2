/**
 * Every bench client connects from 127.0.0.1, so the per-client connection share (1,024 by default, a
 * slow-client guard) would cap the 10,000 idle connections of `idle-connections`; the other contenders have no
 * such limit.
 */
const BENCH_LIMITS = 'limits: { maxConnectionsPerClient: 100000 }';

/** What the generated Portico config needs. */
export interface PorticoConfigOptions {
  port: number;
  adminPort: number;
  upstreamOrigin: string;
  storeDir: string;
  /** Extra `/r<i>/**` routes placed before the catch-all bench route, for route-table scenarios. */
  extraRoutes: number;
}

/**
 * Writes the bench config as YAML text. Built by hand rather than through a YAML library because a 10,000-route
 * table is just 10,000 identical flow mappings; strings go through JSON.stringify, which YAML accepts.
 */
export function porticoConfigYaml(options: PorticoConfigOptions): string {
  const lines = [
    `listen: 127.0.0.1:${options.port}`,
    `admin: { listen: 127.0.0.1:${options.adminPort} }`,
    `store: { path: ${JSON.stringify(options.storeDir)} }`,
    'logging: { level: warn, accessLog: false }',
    BENCH_LIMITS,
    'services:',
    `  bench: { instances: [ { url: ${JSON.stringify(options.upstreamOrigin)} } ] }`,
    'routes:',
  ];
  for (let i = 0; i < options.extraRoutes; i++) {
    lines.push(`  - { name: r${i}, match: { path: "/r${i}/**" }, service: bench }`);
  }
  lines.push('  - { name: bench, match: { path: "/**" }, service: bench }', '');
  return lines.join('\n');
}

/** Where a bench Portico keeps its registry: the embedded store in its folder, or Redis under a prefix. */
export type BenchStore = { kind: 'embedded'; path: string } | { kind: 'redis'; url: string; prefix: string };

/** The listeners, store and quiet logging every bench config starts with; scenarios append the rest. */
export function porticoHeadYaml(port: number, adminPort: number, store: BenchStore): string {
  const storeLine =
    store.kind === 'embedded'
      ? `store: { path: ${JSON.stringify(store.path)} }`
      : `store: { kind: redis, url: ${JSON.stringify(store.url)}, prefix: ${JSON.stringify(store.prefix)} }`;
  return [
    `listen: 127.0.0.1:${port}`,
    `admin: { listen: 127.0.0.1:${adminPort} }`,
    storeLine,
    'logging: { level: warn, accessLog: false }',
    BENCH_LIMITS,
    '',
  ].join('\n');
}

/** `count` routes `/r<i>/**` to `service`, as YAML list items, for route tables of a given size. */
export function fillerRoutesYaml(count: number, service: string): string {
  let text = '';
  for (let i = 0; i < count; i++) {
    text += `  - { name: r${i}, match: { path: "/r${i}/**" }, service: ${service} }\n`;
  }
  return text;
}
