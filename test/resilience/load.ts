import { Agent, request } from 'undici';

/** What a load run saw. */
export interface LoadResult {
  ok: number;
  failed: { status: number; error?: string }[];
}

/**
 * Sends GETs from `concurrency` loops until `stop()`; every answer that is not 200 (or that fails) is kept.
 * Its own keep-alive agent, so the gateway sees a steady pool of client connections.
 */
export function startLoad(url: string, concurrency: number): { stop(): Promise<LoadResult> } {
  const agent = new Agent({ connections: concurrency });
  const result: LoadResult = { ok: 0, failed: [] };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(url, { dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 });
        const text = await res.body.text();
        if (res.statusCode === 200) result.ok++;
        else result.failed.push({ status: res.statusCode, error: text.slice(0, 200) });
      } catch (err) {
        result.failed.push({ status: 0, error: String(err) });
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await agent.close();
      return result;
    },
  };
}
