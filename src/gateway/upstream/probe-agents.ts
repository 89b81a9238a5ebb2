import { Agent, request } from 'undici';
import type { GuardedLookup } from '../../registry/address-policy.ts';
import { grpcHealthRequest, GRPC_HEALTH_PATH, isServingAnswer } from '../../http/grpc-health.ts';
import type { UpstreamProtocol } from './origin-pools.ts';
import type { UpstreamTls } from './upstream-tls.ts';

/** Settings shared by every agent of one health checker. */
export interface ProbeAgentOptions {
  readonly connections: number;
  readonly connectTimeoutMs?: number | undefined;
  readonly keepAliveTimeoutMs: number;
  readonly tls?: UpstreamTls | undefined;
  readonly lookup?: GuardedLookup | undefined;
}

/**
 * The health checkers' own undici agents, one per HTTP version, made on first use: instances of one service may
 * speak different versions (a registered gRPC instance is h2c or h2 where the service says nothing), and an
 * agent speaks h2c to every plain origin or to none.
 */
export class ProbeAgents {
  readonly #options: ProbeAgentOptions;
  readonly #agents = new Map<UpstreamProtocol, Agent>();

  constructor(options: ProbeAgentOptions) {
    this.#options = options;
  }

  /** The agent for `protocol`. */
  get(protocol: UpstreamProtocol): Agent {
    let agent = this.#agents.get(protocol);
    if (agent !== undefined) return agent;
    const { tls, lookup } = this.#options;
    const h2c = protocol === 'h2c';
    const connect = {
      ...tls,
      ...(lookup === undefined ? {} : { lookup }),
      ...(h2c ? { useH2c: true } : {}),
    };
    agent = new Agent({
      connections: this.#options.connections,
      pipelining: 1,
      keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      ...(this.#options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeout: this.#options.connectTimeoutMs }),
      ...(protocol === 'http1' ? {} : { allowH2: true }),
      ...(Object.keys(connect).length === 0 ? {} : { connect }),
    });
    this.#agents.set(protocol, agent);
    return agent;
  }

  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((agent) => agent.close()));
  }
}

/** Outcome of one gRPC health call. */
export interface GrpcHealthOutcome {
  readonly ok: boolean;
  readonly status: number;
  readonly reason?: string;
}

/**
 * Calls the standard gRPC health service (grpc/doc/health-checking.md) on `origin`: `Check` for the whole
 * server, or for one named service. Healthy when the call ends with status OK and the answer says SERVING.
 */
export async function checkGrpcHealth(
  agent: Agent,
  origin: string,
  service: string,
  signal: AbortSignal,
): Promise<GrpcHealthOutcome> {
  const response = await request(origin + GRPC_HEALTH_PATH, {
    method: 'POST',
    dispatcher: agent,
    signal,
    headers: { 'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'portico-health-check' },
    body: grpcHealthRequest(service),
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  // undici's request() leaves HTTP/2 trailers out: a failed call shows its status in the head (Trailers-Only)
  // or sends no SERVING message, so the message decides.
  const status = response.headers['grpc-status'] ?? response.trailers['grpc-status'];
  if (status !== undefined && status !== '0')
    return { ok: false, status: response.statusCode, reason: `grpc-status ${String(status)}` };
  return isServingAnswer(bytes)
    ? { ok: true, status: response.statusCode }
    : { ok: false, status: response.statusCode, reason: 'not SERVING' };
}
