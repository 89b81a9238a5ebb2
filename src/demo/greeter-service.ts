import { writeFile } from 'node:fs/promises';
import type * as GrpcJs from '@grpc/grpc-js';
import { join } from 'node:path';
import { bytesField, readBytesField, varintField } from '../http/protobuf-wire.ts';
import { createService, type PorticoService, type ServiceOptions } from '../sdk/index.ts';

/** The demo's gRPC service, written next to the demo's config so grpcurl can read it (`-proto`). */
export const greeterProto = `syntax = "proto3";

package portico.demo.v1;

service Greeter {
  rpc SayHello (HelloRequest) returns (HelloReply);
}

message HelloRequest {
  string name = 1;
}

message HelloReply {
  string message = 1;
  string served_by = 2;
}
`;

/** The method's path: what a gateway route matches (`/portico.demo.v1.Greeter/**`). */
export const SAY_HELLO_PATH = '/portico.demo.v1.Greeter/SayHello';

/** Writes greeter.proto into `dir` and answers its path. */
export async function writeGreeterProto(dir: string): Promise<string> {
  const file = join(dir, 'greeter.proto');
  await writeFile(file, greeterProto);
  return file;
}

type Callback = (error: null, reply: Buffer) => void;

/**
 * Starts the demo's Greeter on a `@grpc/grpc-js` server registered through the SDK (`protocol: grpc`, checked
 * with the standard gRPC health service). Messages are encoded by hand (a string field or two), so the demo needs
 * grpc-js at run time but no proto-loader. Answers undefined, without failing the demo, when grpc-js is not
 * installed.
 */
export async function startGreeter(
  id: string,
  options: Pick<ServiceOptions, 'registry' | 'logger'>,
): Promise<PorticoService | undefined> {
  let grpc: typeof GrpcJs;
  try {
    grpc = await import('@grpc/grpc-js');
  } catch {
    return undefined;
  }
  const server = new grpc.Server();
  const raw = (buffer: Buffer): Buffer => buffer;
  const unary = (path: string) => ({
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  });
  server.addService(
    { SayHello: unary(SAY_HELLO_PATH) },
    {
      SayHello(call: { request: Buffer }, callback: Callback) {
        const name = readBytesField(call.request, 1)?.toString('utf8') || 'world';
        callback(null, Buffer.concat([bytesField(1, `Hello, ${name}!`), bytesField(2, id)]));
      },
    },
  );
  // grpc.health.v1.Health/Check: SERVING (`status = 1`) for the server and every service.
  server.addService(
    { Check: unary('/grpc.health.v1.Health/Check') },
    {
      Check(_call: unknown, callback: Callback) {
        callback(null, varintField(1, 1));
      },
    },
  );
  return createService({
    name: 'greeter',
    version: '1.0.0',
    id,
    ...options,
    grpc: { server },
    ttl: '10s',
    drainGraceMs: 0,
    drainTimeoutMs: 2_000,
    handleSignals: false,
    healthCheck: { interval: '5s' },
  });
}
