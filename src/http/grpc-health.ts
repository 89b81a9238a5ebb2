import { bytesField, grpcFrame, readVarintField } from './protobuf-wire.ts';

/** The standard gRPC health service's method (grpc/doc/health-checking.md): a check on this path is a gRPC one. */
export const GRPC_HEALTH_PATH = '/grpc.health.v1.Health/Check';

/**
 * The gRPC frame of a `HealthCheckRequest` asking about one named service (`service = 1`), or about the whole
 * server when `service` is empty.
 *
 * @example grpcHealthRequest('shop.orders.v1.Orders') // 00 00 00 00 17 0a 15 ...
 */
export function grpcHealthRequest(service = ''): Buffer {
  return grpcFrame(bytesField(1, service));
}

/** `HealthCheckResponse.ServingStatus.SERVING`. */
const SERVING = 1;

/** Whether a gRPC answer body holds one `HealthCheckResponse` whose `status` (field 1) is SERVING. */
export function isServingAnswer(body: Buffer): boolean {
  if (body.length < 5 || body[0] !== 0) return false;
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) return false;
  return readVarintField(body.subarray(5, 5 + length), 1) === SERVING;
}
