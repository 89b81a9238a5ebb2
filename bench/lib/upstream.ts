import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { nginxAvailable, nginxArgs, nginxVersion, writeUpstreamConfig } from './nginx.ts';
import { BODIES, PATHS } from './payloads.ts';
import type { CpuList, ManagedProcess, ProcessGroup } from './processes.ts';
import { freePort, getStatus, waitUntil } from './wait.ts';

/** The running upstream every contender proxies to. */
export interface Upstream {
  kind: string;
  origin: string;
  process: ManagedProcess;
}

/** Starts nginx serving the two fixed documents, or the node:http fallback when nginx is not installed. */
export async function startUpstream(group: ProcessGroup, tmpDir: string, cpus: CpuList): Promise<Upstream> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  let kind: string;
  let proc: ManagedProcess;
  if (nginxAvailable()) {
    const www = join(tmpDir, 'www');
    // nginx started as root serves files as `nobody`, which must be able to walk into the temp folder.
    await chmod(tmpDir, 0o755);
    await mkdir(www, { recursive: true });
    await chmod(www, 0o755);
    await writeFile(join(www, PATHS.small.slice(1)), BODIES.small, { mode: 0o644 });
    await writeFile(join(www, PATHS.large.slice(1)), BODIES.large, { mode: 0o644 });
    const dir = join(tmpDir, 'nginx-upstream');
    const conf = await writeUpstreamConfig(dir, port, www);
    kind = `${nginxVersion()} (static files)`;
    proc = group.spawn('upstream', 'nginx', nginxArgs(dir, conf), { cpus });
  } else {
    kind = `node:http ${process.version} (nginx not installed)`;
    const script = fileURLToPath(new URL('./node-upstream.ts', import.meta.url));
    proc = group.spawn('upstream', process.execPath, [script, String(port)], { cpus });
  }
  const ready = await waitUntil(async () => (await getStatus(origin + PATHS.small)) === 200, 10_000);
  if (!ready) throw new Error(`upstream did not start: ${proc.output().slice(-500)}`);
  return { kind, origin, process: proc };
}
