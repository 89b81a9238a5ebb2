import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BODIES, PATHS } from './payloads.ts';

/** True when an `nginx` binary is on PATH. */
export function nginxAvailable(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** nginx's version string, e.g. `nginx/1.22.1`. */
export function nginxVersion(): string {
  // nginx -v writes to stderr.
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return /nginx\/\S+/.exec(`${result.stderr}${result.stdout}`)?.[0] ?? 'nginx';
}

/**
 * Lays out an nginx prefix directory with its own temp folders, so that nothing touches /etc or /var.
 * The folders are world-writable because nginx started as root runs its worker as `nobody`.
 */
async function preparePrefix(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    await mkdir(join(dir, sub), { recursive: true });
    await chmod(join(dir, sub), 0o777);
  }
}

function common(dir: string): string {
  return `daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 16384; }
`;
}

function httpCommon(dir: string): string {
  return `  access_log off;
  keepalive_timeout 120s;
  keepalive_requests 10000000;
  tcp_nodelay on;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
`;
}

/** Writes the upstream config (static files from `wwwDir`) and returns the path of nginx.conf. */
export async function writeUpstreamConfig(dir: string, port: number, wwwDir: string): Promise<string> {
  await preparePrefix(dir);
  const conf = `${common(dir)}http {
${httpCommon(dir)}  sendfile on;
  types { }
  default_type application/json;
  etag off;
  server {
    listen 127.0.0.1:${port} backlog=16384;
    root ${wwwDir};
    location / { }
    # The static module refuses POST; \`return\` answers any method and discards the request body.
    location = ${PATHS.order} { return 200 '${BODIES.small}'; }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  return file;
}

/** Writes a reverse-proxy config with a keep-alive upstream pool and returns the path of nginx.conf. */
export function writeProxyConfig(dir: string, port: number, upstreamOrigin: string): Promise<string> {
  return writeReverseProxy(dir, port, upstreamOrigin, false);
}

/** Arguments that run nginx in the foreground on one config, with its error log kept in `dir`. */
export function nginxArgs(dir: string, confFile: string): string[] {
  return ['-p', dir, '-c', confFile, '-e', join(dir, 'error.log')];
}

/**
 * Writes a reverse-proxy config whose listener speaks HTTP/2 with prior knowledge (h2c) in front of a keep-alive
 * HTTP/1.1 upstream pool, and returns the path of nginx.conf. nginx 1.25.1 spells it `http2 on;`; older builds
 * (Debian 12 ships 1.22) take the `http2` parameter of `listen`, used here so that both run it.
 */
export function writeH2ProxyConfig(dir: string, port: number, upstreamOrigin: string): Promise<string> {
  return writeReverseProxy(dir, port, upstreamOrigin, true);
}

async function writeReverseProxy(
  dir: string,
  port: number,
  upstreamOrigin: string,
  h2c: boolean,
): Promise<string> {
  await preparePrefix(dir);
  const upstream = new URL(upstreamOrigin);
  const conf = `${common(dir)}http {
${httpCommon(dir)}${h2c ? '  http2_max_concurrent_streams 128;\n' : ''}  upstream bench_upstream {
    server ${upstream.host};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port}${h2c ? ' http2' : ''} backlog=16384;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  return file;
}
