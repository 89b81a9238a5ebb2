import Negotiator from 'negotiator';
import { parseSizeBytes } from '../../config/units.ts';
import { createContentTypeMatcher } from '../../policies/content-types.ts';
import {
  CompressingResponse,
  type CompressionSettings,
  type Encoding,
} from '../forwarding/compressing-response.ts';
import type { StageFactory } from '../pipeline/stage.ts';

/** Distinct Accept-Encoding values remembered per route: clients send a handful, never thousands. */
const negotiationMemory = 64;

type EncodingsOf = (available: readonly string[], options: { preferred: readonly string[] }) => string[];

/**
 * Response compression (transform phase, first of its phase: the cache after it stores answers as the
 * service sent them and each answer is compressed on the way out). Accept-Encoding is negotiated with
 * `negotiator` (q-values, `identity`, `*`); the route's order breaks ties. A request whose client takes
 * none of the encodings, or a HEAD, gets nothing installed.
 */
export const compressStage: StageFactory = {
  name: 'compress',
  phase: 'transform',
  create(route) {
    const config = route.compress;
    if (config === undefined) return undefined;
    const settings: CompressionSettings = {
      minBytes: parseSizeBytes(config.minSize),
      compressible: createContentTypeMatcher(config.types),
    };
    const offered: readonly string[] = [...config.encodings, 'identity'];
    const preferred: readonly string[] = config.encodings;
    const chosen = new Map<string, Encoding | null>();
    const negotiate = (acceptEncoding: string): Encoding | null => {
      let encoding = chosen.get(acceptEncoding);
      if (encoding === undefined) {
        const negotiator = new Negotiator({ headers: { 'accept-encoding': acceptEncoding } });
        const best = (negotiator.encodings.bind(negotiator) as unknown as EncodingsOf)(offered, {
          preferred,
        })[0];
        encoding = best === undefined || best === 'identity' ? null : (best as Encoding);
        if (chosen.size >= negotiationMemory) chosen.clear();
        chosen.set(acceptEncoding, encoding);
      }
      return encoding;
    };

    return function compress(ctx, next) {
      const acceptEncoding = ctx.req.headers['accept-encoding'];
      if (acceptEncoding === undefined || ctx.req.method === 'HEAD' || ctx.upgradeHead !== undefined)
        return next(ctx);
      const encoding = negotiate(acceptEncoding);
      if (encoding !== null) new CompressingResponse(ctx.res, settings, encoding);
      return next(ctx);
    };
  },
};
