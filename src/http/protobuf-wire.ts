/**
 * The few protocol buffer wire-format pieces (protobuf.dev/programming-guides/encoding) the gateway writes and
 * reads itself: a health check request, a health answer's status, and the `google.rpc.Status` of a
 * `grpc-status-details-bin` trailer. A protobuf runtime (protobufjs, google-protobuf) would need a new
 * dependency and a schema load for three messages of one to three fields each.
 */

/** A base-128 varint (non-negative integers below 2^53). */
export function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A varint field (wire type 0); empty for 0, which proto3 leaves out. */
export function varintField(field: number, value: number): Buffer {
  return value === 0 ? Buffer.alloc(0) : Buffer.concat([varint(field * 8), varint(value)]);
}

/** A length-delimited field (wire type 2): a string, bytes or an embedded message; empty when empty. */
export function bytesField(field: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return bytes.length === 0 ? bytes : Buffer.concat([varint(field * 8 + 2), varint(bytes.length), bytes]);
}

/** One message in a gRPC frame: uncompressed flag, 4-byte big-endian length, the message. */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/**
 * The value of varint field `field` in a message, or 0 when absent (proto3's default). Skips other fields of
 * any wire type; undefined when the message is malformed.
 */
export function readVarintField(message: Buffer, field: number): number | undefined {
  const found = readField(message, field, 0);
  return found === undefined ? undefined : typeof found === 'number' ? found : undefined;
}

/** The bytes of length-delimited field `field` (a string, bytes, a message), empty when absent. */
export function readBytesField(message: Buffer, field: number): Buffer | undefined {
  const found = readField(message, field, 2);
  return found === undefined ? undefined : typeof found === 'number' ? undefined : found;
}

/** The last value of `field` with `wireType` (the last one wins, as protobuf parsers do). */
function readField(message: Buffer, field: number, wireType: 0 | 2): number | Buffer | undefined {
  let at = 0;
  let found: number | Buffer = wireType === 0 ? 0 : Buffer.alloc(0);
  const next = (): number | undefined => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = message[at++];
      if (byte === undefined || scale > 2 ** 49) return undefined;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  };
  while (at < message.length) {
    const key = next();
    if (key === undefined) return undefined;
    const type = key % 8;
    const value = type === 0 || type === 2 ? next() : undefined;
    const wanted = Math.floor(key / 8) === field && type === wireType;
    if (type === 0 && value !== undefined) {
      if (wanted) found = value;
    } else if (type === 2 && value !== undefined) {
      if (wanted) found = message.subarray(at, at + value);
      at += value;
    } else if (type === 1) at += 8;
    else if (type === 5) at += 4;
    else return undefined;
    if (at > message.length) return undefined;
  }
  return found;
}
