import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * HTTP/2 frames written by hand (RFC 9113 §4, HPACK RFC 7541), for clients that misbehave on purpose: no
 * HTTP/2 library sends a rapid reset or a CONTINUATION flood, so the attack tests build the bytes themselves.
 */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settings(): Buffer {
  return frame(FrameType.SETTINGS, 0, 0);
}

export function ping(payload = Buffer.alloc(8)): Buffer {
  return frame(FrameType.PING, 0, 0, payload);
}

export function rstStream(streamId: number, code = 0x8 /* CANCEL */): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` carries the bits above the prefix. */
function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

/** An indexed field (static table or dynamic table entry). */
export function indexed(index: number): Buffer {
  return Buffer.from(hpackInt(index, 7, 0x80));
}

/** A literal field added to the dynamic table (new name). */
export function literalIndexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** A literal field not indexed, its name from the static table. */
export function literalWithIndexedName(nameIndex: number, value: string): Buffer {
  return Buffer.concat([Buffer.from(hpackInt(nameIndex, 4, 0x00)), hpackString(value)]);
}

/** The header block of `GET path` over http (static table: 2 = :method GET, 6 = :scheme http, 4/:path, 1/:authority). */
export function getRequestBlock(path: string, authority = 'localhost'): Buffer {
  return Buffer.concat([
    indexed(2),
    indexed(6),
    literalWithIndexedName(4, path),
    literalWithIndexedName(1, authority),
  ]);
}

export function headers(streamId: number, block: Buffer, flags = Flag.END_HEADERS | Flag.END_STREAM): Buffer {
  return frame(FrameType.HEADERS, flags, streamId, block);
}

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** A raw HTTP/2 connection: what the server sent, parsed into frames, and whether it closed. */
export interface RawH2Connection {
  readonly socket: Socket;
  readonly frames: ReceivedFrame[];
  closed: boolean;
  /** Writes bytes; resolves false once the server closed the connection. */
  write(bytes: Buffer): Promise<boolean>;
  /** The GOAWAY the server sent, if any: its error code and debug data. */
  goaway(): { code: number; debug: string } | undefined;
  close(): void;
}

/**
 * Opens a connection (TLS with ALPN h2 when `ca` is given, else h2c prior knowledge), sends the preface and an
 * empty SETTINGS, and collects the server's frames.
 */
export async function openRawH2(port: number, options: { ca?: string } = {}): Promise<RawH2Connection> {
  const socket: Socket =
    options.ca === undefined
      ? connectTcp({ host: '127.0.0.1', port })
      : connectTls({
          host: '127.0.0.1',
          port,
          ca: options.ca,
          ALPNProtocols: ['h2'],
          checkServerIdentity: () => undefined,
        });
  await new Promise<void>((resolve, reject) => {
    socket.once(options.ca === undefined ? 'connect' : 'secureConnect', resolve);
    socket.once('error', reject);
  });
  const connection: RawH2Connection = {
    socket,
    frames: [],
    closed: false,
    write(bytes) {
      if (connection.closed || socket.destroyed) return Promise.resolve(false);
      return new Promise((resolve) => {
        socket.write(bytes, (err) => resolve(err == null));
      });
    },
    goaway() {
      const found = connection.frames.find((f) => f.type === FrameType.GOAWAY);
      if (found === undefined) return undefined;
      return {
        code: found.payload.readUInt32BE(4),
        debug: found.payload.subarray(8).toString('latin1'),
      };
    },
    close() {
      socket.destroy();
    },
  };
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      connection.frames.push({
        type: pending[3] as number,
        flags: pending[4] as number,
        streamId: pending.readUInt32BE(5) & 0x7fffffff,
        payload: pending.subarray(9, 9 + length),
      });
      pending = pending.subarray(9 + length);
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    connection.closed = true;
  });
  await connection.write(Buffer.concat([PREFACE, settings()]));
  return connection;
}
