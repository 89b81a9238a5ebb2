import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Trailers as undici hands them over: a raw [name, value, …] list (HTTP/1.1) or an object (HTTP/2). */
export type UpstreamTrailers =
  readonly (Buffer | string)[] | Readonly<Record<string, string | string[] | undefined>>;

/**
 * Relays an upstream's trailers (gRPC's `grpc-status`, `grpc-message`, …) to the client answer; nothing is
 * allocated when there are none, the common case outside gRPC.
 */
export function addUpstreamTrailers(res: ServerResponse, trailers: UpstreamTrailers): void {
  let out: OutgoingHttpHeaders | undefined;
  if (Array.isArray(trailers)) {
    const raw = trailers as readonly (Buffer | string)[];
    for (let i = 0; i < raw.length; i += 2) (out ??= {})[latin1(raw[i]).toLowerCase()] = latin1(raw[i + 1]);
  } else {
    const named = trailers as Readonly<Record<string, string | string[] | undefined>>;
    for (const name in named) {
      const value = named[name];
      if (value !== undefined) (out ??= {})[name] = value;
    }
  }
  if (out !== undefined) res.addTrailers(out);
}

function latin1(value: Buffer | string | undefined): string {
  return typeof value === 'string' ? value : (value?.toString('latin1') ?? '');
}
