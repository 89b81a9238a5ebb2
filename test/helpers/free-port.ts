import { createServer } from 'node:net';

/** Below Linux's ephemeral range (32768–60999), so no socket bound to port 0 is ever handed one of these. */
const lowest = 20_000;
const highest = 32_000;

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a child process that must be told its port.
 *
 * The port is drawn at random outside the kernel's ephemeral range: a port the kernel picked for `listen(0)`
 * and released can be handed to another test's `listen(0)` (an upstream, a client socket) before the child
 * binds it, while a port drawn here can collide only with another draw here (about 1 in 12,000 per pair).
 * Callers that start a process still retry on EADDRINUSE (see startPortico), which covers that case.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest));
    if (await bindable(port)) return port;
    if (attempt >= 50) throw new Error(`no free port between ${lowest} and ${highest} after 50 draws`);
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Two distinct free ports. */
export async function freePorts(): Promise<{ port: number; adminPort: number }> {
  const port = await freePort();
  for (;;) {
    const adminPort = await freePort();
    if (adminPort !== port) return { port, adminPort };
  }
}
