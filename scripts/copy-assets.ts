import { cp } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Copies the dashboard's static files next to the compiled code (tsc copies only what it compiles). */
const root = resolve(import.meta.dirname, '..');
await cp(resolve(root, 'src/dashboard/assets'), resolve(root, 'dist/dashboard/assets'), { recursive: true });
