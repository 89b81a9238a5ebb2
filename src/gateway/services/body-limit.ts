import { Transform, type TransformCallback } from 'node:stream';
import { PorticoError } from '../../errors/portico-error.ts';

/**
 * Counts a chunked request body on its way upstream and fails it with payload_too_large past the limit.
 * Bodies with a Content-Length are checked before proxying and framed by Node's parser, so only chunked
 * bodies pay for this stream.
 */
export function createBodyLimiter(limitBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > limitBytes)
        callback(new PorticoError('payload_too_large', `body exceeds ${limitBytes} bytes`));
      else callback(null, chunk);
    },
  });
}
