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
