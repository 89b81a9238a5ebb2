import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

// The reference proxies and autocannon live in bench/package.json with their own lockfile, so installing
// Portico (or its CI) never downloads them. The first `npm run bench` installs them; a newer lockfile
// (after a bump) installs them again.
const dir = import.meta.dirname;
const marker = join(dir, 'node_modules', '.package-lock.json');
const lock = join(dir, 'package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.log('bench: installing the reference proxies (bench/package.json), once');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
