import { constants, type Http2Session, type ServerHttp2Stream } from 'node:http2';

/** What a client may do on one HTTP/2 connection within `windowMs` before it is sent away. */
export interface Http2FloodLimits {
  readonly windowMs: number;
  /** Streams cancelled by the client before their answer ended (rapid reset, CVE-2023-44487). */
  readonly maxResets: number;
  readonly maxPings: number;
  readonly maxSettings: number;
}

export type Http2FloodKind = 'resets' | 'pings' | 'settings';

const kFlood = Symbol('portico.http2Flood');
interface FloodState {
  readonly limits: Http2FloodLimits;
  readonly onFlood: (kind: Http2FloodKind, session: Http2Session) => void;
  windowStart: number;
  resets: number;
  pings: number;
  settings: number;
  cut: boolean;
}
type GuardedSession = Http2Session & { [kFlood]?: FloodState };

/**
 * Per-connection counters against the HTTP/2 floods nghttp2 leaves to the application: stream resets
 * (its own rapid-reset limit is 1000 resets then 33/s, far above what a real client does), PING and SETTINGS
 * frames (each one makes the server queue an acknowledgement). Past a limit the connection gets
 * GOAWAY(ENHANCE_YOUR_CALM) naming the flood, then is closed; other connections are untouched.
 * CONTINUATION floods (CVE-2024-27316) and HPACK bombs are refused by nghttp2 and Node themselves
 * (`maxHeaderListSize`, `maxHeaderListPairs`, at most 8 CONTINUATION frames per header block).
 *
 * One state object per connection, one shared listener per event: nothing is allocated per stream.
 */
export function guardHttp2Session(
  session: Http2Session,
  limits: Http2FloodLimits,
  onFlood: (kind: Http2FloodKind, session: Http2Session) => void,
): void {
  (session as GuardedSession)[kFlood] = {
    limits,
    onFlood,
    windowStart: performance.now(),
    resets: 0,
    pings: 0,
    settings: 0,
    cut: false,
  };
  session.on('stream', watchStream);
  session.on('ping', countPing);
  session.on('remoteSettings', countSettings);
}

function watchStream(this: Http2Session, stream: ServerHttp2Stream): void {
  stream.on('aborted', countReset);
}

function countReset(this: ServerHttp2Stream): void {
  count(this.session as GuardedSession | undefined, 'resets');
}

function countPing(this: Http2Session): void {
  count(this as GuardedSession, 'pings');
}

function countSettings(this: Http2Session): void {
  count(this as GuardedSession, 'settings');
}

function count(session: GuardedSession | undefined, kind: Http2FloodKind): void {
  const state = session?.[kFlood];
  if (session === undefined || state === undefined || state.cut) return;
  const now = performance.now();
  if (now - state.windowStart > state.limits.windowMs) {
    state.windowStart = now;
    state.resets = 0;
    state.pings = 0;
    state.settings = 0;
  }
  const seen = ++state[kind];
  const limit =
    kind === 'resets'
      ? state.limits.maxResets
      : kind === 'pings'
        ? state.limits.maxPings
        : state.limits.maxSettings;
  if (seen <= limit) return;
  state.cut = true;
  state.onFlood(kind, session);
  if (session.destroyed) return;
  // The debug data names the flood, so a client (and a test) can tell this GOAWAY from nghttp2's own.
  session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from(`portico: too many ${kind}`));
  // No new stream is taken; the connection closes once GOAWAY is written and open streams ended, and within a
  // second whatever the client still holds (destroying at once could drop the queued GOAWAY).
  session.close();
  setTimeout(destroySession, CUT_GRACE_MS, session).unref();
}

const CUT_GRACE_MS = 1_000;

function destroySession(session: Http2Session): void {
  if (!session.destroyed) session.destroy();
}
