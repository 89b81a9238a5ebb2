import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface Msg {
  text?: string;
  count?: number;
  servedBy?: string;
}

/** The generated client of test/grpc/echo.proto (grpc-js dynamic stubs). */
export type EchoClient = grpc.Client & {
  Unary(
    msg: Msg,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: grpc.requestCallback<Msg>,
  ): grpc.ClientUnaryCall;
  ServerStream(msg: Msg, metadata?: grpc.Metadata): grpc.ClientReadableStream<Msg>;
  ClientStream(metadata: grpc.Metadata, cb: grpc.requestCallback<Msg>): grpc.ClientWritableStream<Msg>;
  Bidi(metadata?: grpc.Metadata): grpc.ClientDuplexStream<Msg, Msg>;
};

const definition = protoLoader.loadSync(join(import.meta.dirname, '..', 'grpc', 'echo.proto'), {
  keepCase: false,
  defaults: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  portico: { test: { Echo: grpc.ServiceClientConstructor } };
};
export const EchoService = loaded.portico.test.Echo;
const health = grpc.loadPackageDefinition(
  protoLoader.loadSync(join(import.meta.dirname, '..', 'grpc', 'health.proto'), { defaults: true }),
) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };

export interface GrpcEcho {
  readonly port: number;
  readonly url: string;
  readonly name: string;
  /** Calls received, by method name. */
  readonly calls: string[];
  /** What `grpc.health.v1.Health/Check` answers (SERVING at start). */
  serving: boolean;
  /** Services (`HealthCheckRequest.service`) the health check answers NOT_SERVING for, the server SERVING. */
  readonly notServing: Set<string>;
  /** The grpc-js server, for tests that hand it to the SDK. */
  readonly server: grpc.Server;
  close(): Promise<void>;
}

function delayOf(text: string | undefined): number {
  const m = /^slow:(\d+)$/.exec(text ?? '');
  return m === null ? 0 : Number(m[1]);
}

/**
 * A real gRPC server (grpc-js, h2c on 127.0.0.1) implementing test/grpc/echo.proto. `text: "fail"` (every
 * unary call with `unavailable`) answers UNAVAILABLE, `text: "slow:MS"` waits before answering, a
 * server stream asked for `stall` sends one message and stays open; every answer carries trailing metadata
 * `x-served-by` so tests see trailers pass through.
 */
export async function startGrpcEcho(
  name = 'echo',
  options: { unavailable?: boolean; bind?: boolean } = {},
): Promise<GrpcEcho> {
  const calls: string[] = [];
  const server = new grpc.Server();
  const echo: { serving: boolean } = { serving: true };
  const notServing = new Set<string>();
  server.addService(health.grpc.health.v1.Health.service, {
    Check(call: grpc.ServerUnaryCall<{ service?: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const serving = echo.serving && !notServing.has(call.request.service ?? '');
      callback(null, { status: serving ? 'SERVING' : 'NOT_SERVING' });
    },
  });
  const trailer = (): grpc.Metadata => {
    const metadata = new grpc.Metadata();
    metadata.set('x-served-by', name);
    return metadata;
  };
  server.addService(EchoService.service, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      calls.push('Unary');
      if (call.request.text === 'fail' || options.unavailable === true) {
        callback({ code: grpc.status.UNAVAILABLE, details: `${name} is failing`, metadata: trailer() });
        return;
      }
      setTimeout(
        () => callback(null, { text: call.request.text ?? '', servedBy: name }, trailer()),
        delayOf(call.request.text),
      );
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      calls.push('ServerStream');
      if (call.request.text === 'stall') {
        // One message, then nothing: the stream stays open until the caller or a deadline ends it.
        call.write({ text: 'first', count: 0 });
        return;
      }
      for (let i = 0; i < (call.request.count ?? 0); i++)
        call.write({ text: `${call.request.text}-${i}`, count: i });
      call.end(trailer());
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      calls.push('ClientStream');
      let count = 0;
      const texts: string[] = [];
      call.on('data', (msg: Msg) => {
        count += msg.count ?? 0;
        texts.push(msg.text ?? '');
      });
      call.on('end', () => callback(null, { text: texts.join(','), count, servedBy: name }, trailer()));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      calls.push('Bidi');
      call.on('data', (msg: Msg) => call.write({ text: `echo:${msg.text}`, servedBy: name }));
      call.on('end', () => call.end(trailer()));
    },
  });
  // `bind: false` leaves binding to the caller (the SDK binds servers it is handed without a port).
  const port =
    options.bind === false
      ? 0
      : await new Promise<number>((resolve, reject) =>
          server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
            err === null ? resolve(bound) : reject(err),
          ),
        );
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    name,
    calls,
    notServing,
    server,
    get serving() {
      return echo.serving;
    },
    set serving(value: boolean) {
      echo.serving = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
