import { Transform, type TransformCallback } from 'node:stream';
import type { HeaderEdit } from '../../policies/header-edit.ts';
import type { UpstreamTrailers } from '../forwarding/response-trailers.ts';

/**
 * gRPC-Web (grpc/doc/PROTOCOL-WEB.md) translated to gRPC, as Envoy's grpc_web filter does, so a browser needs
 * no other proxy. The request's messages are the same length-prefixed frames (base64 text for
 * `application/grpc-web-text`), sent upstream as `application/grpc` with `te: trailers`; the answer's
 * messages go back as they are, and its trailers become a last frame (flag 0x80) of `name: value\r\n` lines,
 * since browsers cannot read HTTP trailers.
 */

/** The upstream request head of a gRPC-Web call: gRPC content type (same codec), `te: trailers`. */
export function grpcWebRequestEdit(contentType: string): HeaderEdit {
  const codec = contentType.replace(/^application\/grpc-web(-text)?/, '');
  return {
    drop: new Set(['content-type', 'x-grpc-web']),
    renames: new Map(),
    append: ['content-type', `application/grpc${codec}`, 'te', 'trailers'],
  };
}

/** Decodes a `grpc-web-text` request body (base64, possibly split anywhere, possibly padded per chunk). */
export class Base64Decoder extends Transform {
  #carry = '';

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.#carry + chunk.toString('latin1').replace(/\s+/g, '');
    const whole = text.length - (text.length % 4);
    this.#carry = text.slice(whole);
    callback(null, whole === 0 ? undefined : decodeBase64Segments(text.slice(0, whole)));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#carry === '' ? undefined : decodeBase64Segments(this.#carry));
  }
}

/** Base64 where a sender may have padded each message on its own: decoded segment by segment. */
function decodeBase64Segments(text: string): Buffer {
  if (!text.includes('=') || text.indexOf('=') >= text.length - 2) return Buffer.from(text, 'base64');
  return Buffer.concat(text.split(/(?<==)(?=[^=])/).map((part) => Buffer.from(part, 'base64')));
}

/** Turns the upstream gRPC answer into a gRPC-Web one, chunk by chunk; one per gRPC-Web call. */
export class GrpcWebAnswer {
  readonly #text: boolean;
  /** Up to 2 bytes waiting for a 3-byte group, so the text answer is one unbroken base64 stream. */
  #carry: Buffer | undefined = undefined;

  constructor(text: boolean) {
    this.#text = text;
  }

  /** Rewrites the answer's content type to the gRPC-Web one the client asked for and drops its length. */
  head(headers: string[]): void {
    let kept = 0;
    for (let i = 0; i < headers.length; i += 2) {
      const name = (headers[i] as string).toLowerCase();
      let value = headers[i + 1] as string;
      if (name === 'content-length') continue;
      if (name === 'content-type' && value.startsWith('application/grpc'))
        value = value.replace(
          /^application\/grpc/,
          this.#text ? 'application/grpc-web-text' : 'application/grpc-web',
        );
      headers[kept++] = headers[i] as string;
      headers[kept++] = value;
    }
    headers.length = kept;
  }

  /** The bytes to send for an upstream DATA chunk. */
  data(chunk: Buffer): Buffer {
    if (!this.#text) return chunk;
    const bytes = this.#carry === undefined ? chunk : Buffer.concat([this.#carry, chunk]);
    const whole = bytes.length - (bytes.length % 3);
    this.#carry = whole === bytes.length ? undefined : bytes.subarray(whole);
    return Buffer.from(bytes.subarray(0, whole).toString('base64'), 'latin1');
  }

  /** The last bytes: the trailers frame (none when the status came in the head), and any text carry. */
  end(trailers: UpstreamTrailers | null | undefined): Buffer {
    const lines = trailerLines(trailers);
    let frame: Buffer | undefined;
    if (lines !== '') {
      const body = Buffer.from(lines, 'latin1');
      frame = Buffer.alloc(5 + body.length);
      frame[0] = 0x80;
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
    }
    if (!this.#text) return frame ?? Buffer.alloc(0);
    const rest =
      this.#carry === undefined
        ? frame
        : frame === undefined
          ? this.#carry
          : Buffer.concat([this.#carry, frame]);
    this.#carry = undefined;
    return rest === undefined ? Buffer.alloc(0) : Buffer.from(rest.toString('base64'), 'latin1');
  }
}

function trailerLines(trailers: UpstreamTrailers | null | undefined): string {
  if (trailers == null) return '';
  let lines = '';
  if (Array.isArray(trailers)) {
    const raw = trailers as readonly (Buffer | string)[];
    for (let i = 0; i < raw.length; i += 2)
      lines += `${String(raw[i]).toLowerCase()}: ${String(raw[i + 1])}\r\n`;
    return lines;
  }
  const named = trailers as Readonly<Record<string, string | string[] | undefined>>;
  for (const name in named) {
    const value = named[name];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines += `${name}: ${one}\r\n`;
  }
  return lines;
}
