import { connect, constants, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';

/** What became of the streams of an HTTP/2 load run so far. */
export interface H2LoadReport {
  /** Streams answered 200 and read to their end. */
  ok: number;
  /** Streams that failed after the server took them: a non-200 answer, a reset, a cut connection. */
  readonly failures: string[];
  /**
   * Streams the server never took: refused with REFUSED_STREAM, above a GOAWAY's last stream id, or not sent
   * because the session was told to go away. A client retries these on a new connection (RFC 9113 §8.7).
   */
  refused: number;
  /** Connections opened, the first ones included. */
  connections: number;
  /** Connections that received GOAWAY. */
  goaways: number;
  /** Connections refused at TCP level (the listener was closed). */
  connectRefused: number;
  /** The `upstream` field of the JSON answers, counted by name. */
  readonly upstreams: Map<string, number>;
}

export interface H2Load {
  readonly report: H2LoadReport;
  /** Stops sending new streams and waits for the ones in flight. */
  stop(): Promise<H2LoadReport>;
}

/**
 * Closed-loop HTTP/2 load as real clients make it: `connections` sessions, each with `streams` workers sending
 * GETs one after another. A session that gets GOAWAY takes no new stream; its workers move to a new connection,
 * and a stream the server refused is sent again there, as clients do after GOAWAY. When the listener is gone
 * (connection refused) the workers of that session stop.
 */
export function startH2Load(options: {
  readonly origin: string;
  readonly path: string;
  readonly connections: number;
  readonly streams: number;
  readonly tls?: SecureClientSessionOptions;
}): H2Load {
  const report: H2LoadReport = {
    ok: 0,
    failures: [],
    refused: 0,
    connections: 0,
    goaways: 0,
    connectRefused: 0,
    upstreams: new Map(),
  };
  const sessions = new Set<ClientHttp2Session>();
  let stopping = false;

  function open(): ClientHttp2Session {
    const session = connect(options.origin, options.tls);
    report.connections++;
    sessions.add(session);
    session.once('goaway', () => report.goaways++);
    session.on('error', () => {});
    session.once('close', () => sessions.delete(session));
    return session;
  }

  /** The session's state once it can carry a stream, or why it cannot. */
  function ready(session: ClientHttp2Session): Promise<'ready' | 'refused' | 'gone'> {
    if (session.destroyed || session.closed) return Promise.resolve('gone');
    if (!session.connecting) return Promise.resolve('ready');
    return new Promise((resolve) => {
      const onConnect = (): void => {
        session.off('close', onClose);
        resolve('ready');
      };
      const onClose = (): void => {
        session.off('connect', onConnect);
        resolve('refused');
      };
      session.once('connect', onConnect);
      session.once('close', onClose);
    });
  }

  type Outcome = 'ok' | 'refused' | 'failed';

  function get(session: ClientHttp2Session): Promise<Outcome> {
    return new Promise((resolve) => {
      let stream;
      try {
        stream = session.request({ ':path': options.path });
      } catch {
        // ERR_HTTP2_GOAWAY_SESSION or ERR_HTTP2_INVALID_SESSION: nothing was sent.
        report.refused++;
        return resolve('refused');
      }
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (head) => (status = Number(head[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => {
        if (status !== 200) {
          report.failures.push(`${status} ${body}`);
          return resolve('failed');
        }
        report.ok++;
        const name = (JSON.parse(body) as { upstream?: string }).upstream ?? '';
        report.upstreams.set(name, (report.upstreams.get(name) ?? 0) + 1);
        resolve('ok');
      });
      stream.on('error', (err: NodeJS.ErrnoException) => {
        // RFC 9113 §8.7: REFUSED_STREAM, or a stream above the GOAWAY's last id, was not processed.
        if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM || err.code === 'ERR_HTTP2_GOAWAY_SESSION') {
          report.refused++;
          return resolve('refused');
        }
        report.failures.push(`${err.code ?? ''} ${err.message} (rst ${stream.rstCode})`);
        resolve('failed');
      });
      stream.end();
    });
  }

  async function worker(first: ClientHttp2Session, shared: { session: ClientHttp2Session }): Promise<void> {
    let session = first;
    while (!stopping) {
      if (session.closed || session.destroyed) {
        // The first worker to notice opens the connection the others of this slot move to.
        if (shared.session === session) shared.session = open();
        session = shared.session;
      }
      const state = await ready(session);
      if (state === 'refused') {
        report.connectRefused++;
        return;
      }
      if (state === 'gone') continue;
      await get(session);
    }
  }

  const workers: Promise<void>[] = [];
  for (let c = 0; c < options.connections; c++) {
    const shared = { session: open() };
    for (let s = 0; s < options.streams; s++) workers.push(worker(shared.session, shared));
  }

  return {
    report,
    async stop() {
      stopping = true;
      await Promise.all(workers);
      for (const session of sessions) session.close();
      return report;
    },
  };
}
