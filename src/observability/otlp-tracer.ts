import type * as OtelApi from '@opentelemetry/api';
import type * as OtelExporter from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtelResources from '@opentelemetry/resources';
import type * as OtelSdk from '@opentelemetry/sdk-trace';
import type { IdGenerator } from '@opentelemetry/sdk-trace';
import type { IncomingMessage } from 'node:http';
import type { OtlpTracingConfig, TracingConfig } from '../config/schema.ts';
import type { Logger } from './logger.ts';
import { parseTraceparent, spanIdOf, traceIdOf, traceparentOf, tracestateOf } from './trace-context.ts';

/**
 * What a span is made of: the parts of the gateway's request context that the tracer reads. Declared here,
 * not imported, so observability does not depend on the gateway (the gateway's RequestContext fits it).
 */
export interface TracedRequest {
  readonly req: IncomingMessage;
  readonly path: string;
  readonly clientIp: string;
  readonly requestId: string;
  /** performance.now() at arrival (ms). */
  readonly startedAt: number;
  /** The id of the instance that served the request, once picked. */
  readonly upstream: string | undefined;
  readonly route: {
    readonly name: string;
    readonly config: { readonly match: { readonly path: string } };
    readonly service: {
      readonly name: string;
      readonly instances: { get(id: string): { readonly url: URL } | undefined };
    };
  };
}

/**
 * Exports the gateway's span of each request over OTLP/HTTP. Exists only when `tracing.otlp` is configured;
 * otherwise the gateway holds `undefined` and pays one comparison per request.
 */
export interface OtlpTracer {
  /** Records the finished request's span; call once, when its response has closed. */
  record(ctx: TracedRequest, status: number): void;
  /** Exports what is still queued, then stops the exporter. */
  shutdown(): Promise<void>;
}

/** How long shutdown waits for the collector before giving up on the queued spans. */
const exportTimeoutMs = 5000;

/**
 * The OpenTelemetry packages are optional peer dependencies (about 19 MB): a service that installs portico
 * only for its SDK, or a gateway without span export, never downloads them.
 */
const otelPackages = [
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace',
  '@opentelemetry/resources',
  '@opentelemetry/exporter-trace-otlp-http',
] as const;

/** The four OpenTelemetry modules the tracer uses, in load order. */
export type OtelModules = [typeof OtelApi, typeof OtelSdk, typeof OtelResources, typeof OtelExporter];

function loadOtelModules(): Promise<OtelModules> {
  return Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
}

/**
 * Creates the OTLP tracer when `tracing.otlp` is set. The OpenTelemetry packages are imported here, on demand,
 * so a gateway without tracing never loads them.
 *
 * @example
 * const tracer = await createOtlpTracer(config.tracing, logger);
 * // per request, once the response has closed:
 * tracer?.record(ctx, 200);
 * await tracer?.shutdown();
 */
export async function createOtlpTracer(
  config: TracingConfig | undefined,
  logger: Logger,
  load: () => Promise<OtelModules> = loadOtelModules,
): Promise<OtlpTracer | undefined> {
  const otlp = config?.otlp;
  if (otlp === undefined) return undefined;
  if (!URL.canParse(otlp.endpoint)) throw new Error(`tracing.otlp.endpoint is not a URL: ${otlp.endpoint}`);
  const [api, sdk, resources, exporter] = await load().catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error(
      `tracing.otlp needs the OpenTelemetry packages, optional peers of portico: npm install ${otelPackages.join(' ')}`,
      { cause: err },
    );
  });
  // Export failures surface through the OpenTelemetry diagnostic logger, silent unless one is set.
  api.diag.setLogger(diagnosticLogger(logger), api.DiagLogLevel.WARN);
  const ids = new PresetIds();
  const provider = new sdk.TracerProvider({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': otlp.serviceName })),
    idGenerator: ids,
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(otlp.sampleRatio) }),
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: new exporter.OTLPTraceExporter(exporterOptions(otlp)),
        exportTimeoutMillis: exportTimeoutMs,
      }),
    ],
  });
  const tracer = provider.getTracer('portico');
  return {
    record(ctx, status) {
      const traceparent = traceparentOf(ctx.req);
      // The SDK draws ids from the generator inside startSpan, synchronously: the span takes the ids the
      // gateway already sent upstream, so upstream spans are its children.
      ids.traceId = traceIdOf(traceparent);
      ids.spanId = spanIdOf(traceparent);
      const span = tracer.startSpan(
        `${ctx.req.method ?? 'GET'} ${ctx.route.name}`,
        { kind: api.SpanKind.SERVER, startTime: ctx.startedAt, attributes: spanAttributes(ctx, status) },
        callerContext(api, ctx, ids.traceId),
      );
      // HTTP semantic conventions: a server span is an error only when the server answered 5xx.
      if (status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end();
    },
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (err) {
        logger.warn({ err }, 'tracing: spans still queued at shutdown were not exported');
      }
      api.diag.disable();
    },
  };
}

/** Hands out the ids set just before each span starts. */
class PresetIds implements IdGenerator {
  traceId = '';
  spanId = '';

  generateTraceId(): string {
    return this.traceId;
  }

  generateSpanId(): string {
    return this.spanId;
  }
}

function exporterOptions(otlp: OtlpTracingConfig): {
  url: string;
  timeoutMillis: number;
  headers?: Record<string, string>;
} {
  const base = { url: otlp.endpoint, timeoutMillis: exportTimeoutMs };
  return otlp.headers === undefined ? base : { ...base, headers: otlp.headers };
}

/** The caller's span as a remote parent when the gateway continued its trace; the root context otherwise. */
function callerContext(api: typeof OtelApi, ctx: TracedRequest, traceId: string): OtelApi.Context {
  const incoming = ctx.req.headers.traceparent;
  const caller = parseTraceparent(typeof incoming === 'string' ? incoming : undefined);
  if (caller === undefined || caller.traceId !== traceId) return api.ROOT_CONTEXT;
  const state = tracestateOf(ctx.req);
  return api.trace.setSpanContext(api.ROOT_CONTEXT, {
    traceId,
    spanId: caller.parentId,
    traceFlags: parseInt(caller.flags, 16) & api.TraceFlags.SAMPLED,
    isRemote: true,
    ...(state === undefined ? {} : { traceState: api.createTraceState(state) }),
  });
}

/** Attributes after the OpenTelemetry HTTP server conventions, plus Portico's own under `portico.`. */
function spanAttributes(ctx: TracedRequest, status: number): OtelApi.Attributes {
  const attributes: OtelApi.Attributes = {
    'http.request.method': ctx.req.method ?? 'GET',
    'http.route': ctx.route.config.match.path,
    'http.response.status_code': status,
    'url.scheme': 'http',
    'url.path': ctx.path,
    'client.address': ctx.clientIp,
    'network.protocol.version': ctx.req.httpVersion,
    'portico.route': ctx.route.name,
    'portico.request_id': ctx.requestId,
  };
  const host = ctx.req.headers.host;
  if (host !== undefined) addServerAddress(attributes, host);
  if (ctx.upstream !== undefined) {
    // The instance is the proxy's peer, not the server of this span: Envoy's upstream_address, not server.address.
    attributes['portico.upstream.instance'] = ctx.upstream;
    attributes['portico.service'] = ctx.route.service.name;
    const instance = ctx.route.service.instances.get(ctx.upstream);
    if (instance !== undefined) attributes['portico.upstream.address'] = instance.url.host;
  }
  return attributes;
}

/** `server.address` and `server.port` from the Host header, which names the server the client addressed. */
function addServerAddress(attributes: OtelApi.Attributes, host: string): void {
  const colon = host.lastIndexOf(':');
  if (colon > host.lastIndexOf(']')) {
    attributes['server.address'] = host.slice(0, colon);
    const port = Number(host.slice(colon + 1));
    if (Number.isInteger(port)) attributes['server.port'] = port;
  } else {
    attributes['server.address'] = host;
  }
}

function diagnosticLogger(logger: Logger): OtelApi.DiagLogger {
  const warn = (message: string, ...args: unknown[]): void => {
    const detail = args.length === 0 ? undefined : args.map(String);
    logger.warn({ reason: reasonOf(message), detail }, 'tracing: span export problem');
  };
  const ignore = (): void => {};
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}

/** The SDK's error handler passes errors as JSON text; the log keeps their message, not their stack. */
function reasonOf(message: string): string {
  if (!message.startsWith('{')) return message;
  try {
    const parsed = JSON.parse(message) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : message;
  } catch {
    return message;
  }
}
