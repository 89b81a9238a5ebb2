import type { IncomingMessage } from 'node:http';

const decimal = /^(0|[1-9][0-9]{0,15})$/;
/** A host name, IPv4 or bracketed IPv6 address, with an optional port: no lists, paths or user info. */
const validHost = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?)(?::[0-9]{1,5})?$/;
const dotSegmentWithParameters = /\/(\.|%2e){1,2};/i;

/**
 * Refuses requests whose framing or target two HTTP parsers could read differently (request smuggling), on
 * top of what Node's strict parser already refuses. Returns why, or undefined when the request is sound.
 * One pass over the raw header list, no allocation for a normal request.
 *
 * - only HTTP/1.0 and HTTP/1.1 (Node also parses HTTP/0.9-like and 2.0 request lines);
 * - Content-Length: one header, plain decimal without leading zeros (Node accepts `005`);
 * - Transfer-Encoding: exactly `chunked`, only on HTTP/1.1, never with Content-Length (Node accepts
 *   `,chunked`, `identity, chunked` and `CHUNKED`);
 * - one Host header (required on HTTP/1.1) holding a valid host, so nothing odd reaches X-Forwarded-Host;
 *   an absolute-form target must name the same authority as Host;
 * - one Authorization header (Node reads the first, an upstream may read the last);
 * - no `/..;/` or `/.;/` in the path (a Tomcat-style upstream reads them as dot segments).
 *
 * @example
 * const problem = checkFraming(req);
 * if (problem !== undefined) sendProblem(res, 'bad_request', problem);
 */
export function checkFraming(req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor === 2) return checkHttp2Request(req);
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1))
    return `HTTP/${req.httpVersion} is not supported`;
  const raw = req.rawHeaders;
  let lengths = 0;
  let encodings = 0;
  let hosts = 0;
  let authorizations = 0;
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 14) {
      if (name.toLowerCase() !== 'content-length') continue;
      if (++lengths > 1) return 'more than one Content-Length header';
      if (!decimal.test(raw[i + 1] as string)) return 'invalid Content-Length';
    } else if (name.length === 17) {
      if (name.toLowerCase() !== 'transfer-encoding') continue;
      if (++encodings > 1) return 'more than one Transfer-Encoding header';
      if ((raw[i + 1] as string).toLowerCase() !== 'chunked') return 'Transfer-Encoding other than "chunked"';
    } else if (name.length === 4) {
      if (name.toLowerCase() !== 'host') continue;
      if (++hosts > 1) return 'more than one Host header';
      host = raw[i + 1] as string;
    } else if (name.length === 13) {
      // Node keeps the first Authorization and the upstream might read the last: one identity only.
      if (name.toLowerCase() === 'authorization' && ++authorizations > 1)
        return 'more than one Authorization header';
    }
  }
  if (hosts === 0) {
    if (req.httpVersionMinor === 1) return 'no Host header';
  } else if (!validHost.test(host)) return 'the Host header is not a valid host';
  if (encodings > 0 && lengths > 0) return 'both Content-Length and Transfer-Encoding';
  if (encodings > 0 && req.httpVersionMinor === 0) return 'Transfer-Encoding on HTTP/1.0';
  const url = req.url ?? '';
  // `/..;/` is a dot segment to servlet containers but a plain segment to Portico's router.
  if (url.includes(';') && dotSegmentWithParameters.test(url))
    return 'a dot segment with ";" parameters in the path';
  if (url.length > 0 && url.charCodeAt(0) !== 0x2f && url !== '*') {
    const authority = absoluteFormAuthority(url);
    if (authority === undefined || authority.toLowerCase() !== host.toLowerCase())
      return 'the request target names another host than the Host header';
  }
  return undefined;
}

/**
 * HTTP/2 framing is nghttp2's (lengths are frame lengths, checked against any Content-Length); what is left is
 * the authority (`:authority`, or Host, same value when both come, RFC 9113 §8.3.1) and one Authorization.
 */
function checkHttp2Request(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let authorizations = 0;
  let authority: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name === ':authority') authority = raw[i + 1] as string;
    else if (name === 'host') {
      if (host !== undefined) return 'more than one Host header';
      host = raw[i + 1] as string;
    } else if (name === 'authorization' && ++authorizations > 1) return 'more than one Authorization header';
  }
  if (authority !== undefined && host !== undefined && authority !== host)
    return 'the Host header names another host than :authority';
  const named = authority ?? host;
  if (named === undefined) return 'no :authority or Host header';
  if (!validHost.test(named)) return 'the :authority is not a valid host';
  const url = req.url ?? '';
  if (url.includes(';') && dotSegmentWithParameters.test(url))
    return 'a dot segment with ";" parameters in the path';
  return undefined;
}

/** The authority of `scheme://authority/...`, or undefined when the target is not absolute-form. */
function absoluteFormAuthority(url: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(url);
  return m?.[1];
}
