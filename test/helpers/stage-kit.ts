import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { parseConfig } from '../../src/config/load.ts';
import type { Config, RouteConfig } from '../../src/config/schema.ts';
import { RequestContext, type RequestRoute } from '../../src/gateway/pipeline/request-context.ts';
import type { Stage, StageFactory } from '../../src/gateway/pipeline/stage.ts';
import { NodeState, type TableState } from '../../src/gateway/runtime/node-state.ts';

/** A whole config from YAML (validated, defaults applied), as the gateway would compile it. */
export function configOf(yaml: string): Config {
  return parseConfig(yaml, 'stage-test.yaml', {});
}

/**
 * The stage `factory` builds for the route named `route`, compiled with a fresh node's table state unless one is
 * given (stages compiled with one state share its parts, such as rate-limit buckets).
 */
export function stageOf(
  factory: StageFactory,
  config: Config,
  route: string,
  state: TableState = new NodeState().prepare(),
): Stage | undefined {
  const routeConfig = config.routes.find((r) => r.name === route) as RouteConfig;
  return factory.create(routeConfig, { config, state });
}

/** Response headers a stage set, lower-cased. */
export interface RecordedResponse {
  readonly headers: Record<string, string>;
}

/** What a stand-in request is made of. */
export interface StandInRequest {
  method?: string;
  headers?: IncomingHttpHeaders;
  path?: string;
  query?: string;
  clientIp?: string;
  /** The request body, streamed to whoever reads the request. */
  body?: string;
  /** The route's fields a stage reads (name, service, upstreamPath…). */
  route?: Partial<RequestRoute>;
}

/** A request context over a stand-in request and response (a stage reads the request and sets headers). */
export function contextOf(request: StandInRequest = {}): { ctx: RequestContext; res: RecordedResponse } {
  const recorded: RecordedResponse = { headers: {} };
  const res = {
    setHeader(name: string, value: string) {
      recorded.headers[name.toLowerCase()] = value;
      return this;
    },
  };
  const req = Object.assign(Readable.from(request.body === undefined ? [] : [Buffer.from(request.body)]), {
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    // Never connected: only there for code that marks the connection (a lingering close after a 413).
    socket: new Socket(),
  });
  const ctx = new RequestContext(
    req as unknown as IncomingMessage,
    res as unknown as ServerResponse,
    { name: 'route', upstreamPath: (path: string) => path, ...request.route } as RequestRoute,
    {},
    request.path ?? '/',
    request.query ?? '',
    request.clientIp ?? '127.0.0.1',
    false,
    'request-1',
    0,
  );
  return { ctx, res: recorded };
}

/** Runs a stage; answers whether it called `next`, or the error it threw. */
export async function runStage(stage: Stage, ctx: RequestContext): Promise<'next' | Error> {
  let passed = false;
  try {
    await stage(ctx, () => {
      passed = true;
    });
  } catch (err) {
    return err as Error;
  }
  return passed ? 'next' : new Error('the stage neither called next nor threw');
}
