import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressMatcher } from '../net/address-matcher.ts';

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-Id when it is a safe token, a new UUID otherwise. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
}

const kTrust = Symbol('portico.trust');
type MemoSocket = Socket & { [kTrust]?: { matcher: AddressMatcher; trusted: boolean } };

/**
 * Whether the peer is a trusted proxy, remembered per connection and per matcher (a reload brings a new
 * one): BlockList.check builds a SocketAddress on every call, which keep-alive connections need not repeat.
 */
export function isTrustedPeer(socket: Socket, peer: string, matcher: AddressMatcher): boolean {
  if (matcher.empty) return false;
  const memo = (socket as MemoSocket)[kTrust];
  if (memo !== undefined && memo.matcher === matcher) return memo.trusted;
  const trusted = matcher.has(peer);
  (socket as MemoSocket)[kTrust] = { matcher, trusted };
  return trusted;
}
