import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Options of {@link createAddressPolicy}. */
export interface AddressPolicyOptions {
  /** Accept 127.0.0.0/8 and ::1 (local development). Default true. */
  readonly allowLoopback?: boolean;
  /** CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses. When set, only these are accepted; they also override the built-in refusals. */
  readonly allow?: readonly string[];
  /** CIDRs or addresses always refused; wins over everything else. */
  readonly deny?: readonly string[];
  /** Resolves a host name to its addresses at registration time; default `dns.lookup` with `all: true`. */
  readonly resolve?: (hostname: string) => Promise<string[]>;
}

export type AddressDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Decides which instance addresses the gateway may connect to. */
export interface AddressPolicy {
  /** Checks one IP address (v4 or v6, any textual form `net.isIP` accepts). */
  checkAddress(address: string): AddressDecision;
  /** Checks a URL's host: an IP literal directly, a host name through every address it resolves to. */
  checkUrl(url: URL): Promise<AddressDecision>;
}

/**
 * Refused whatever the configuration says, unless an `allow` entry names them: link-local (where cloud metadata
 * services live), the metadata addresses outside it, "this network", multicast, broadcast and unspecified.
 */
const REFUSED_V4: readonly [string, number][] = [
  ['0.0.0.0', 8],
  ['169.254.0.0', 16],
  ['100.100.100.200', 32],
  ['224.0.0.0', 4],
  ['255.255.255.255', 32],
];
const REFUSED_V6: readonly [string, number][] = [
  ['::', 128],
  ['fe80::', 10],
  ['fd00:ec2::254', 128],
  ['ff00::', 8],
];

const ALLOWED: AddressDecision = { allowed: true };

/**
 * Builds the allow/deny decision for instance addresses. IPv6 forms that carry an IPv4 address
 * (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are judged by that
 * IPv4 address. Decimal, octal, hex and short IPv4 spellings in URLs are canonicalised by WHATWG `new URL()`
 * before they get here; {@link parseIpv4Loose} covers the same spellings for other callers.
 *
 * @example
 * const policy = createAddressPolicy({ allowLoopback: false, deny: ['10.1.0.0/16'] });
 * policy.checkAddress('169.254.169.254'); // { allowed: false, reason: 'link-local or metadata address' }
 */
export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const allowLoopback = options.allowLoopback ?? true;
  const refused = toBlockList(
    REFUSED_V4.map(([a, p]) => `${a}/${p}`).concat(REFUSED_V6.map(([a, p]) => `${a}/${p}`)),
  );
  const loopback = toBlockList(['127.0.0.0/8', '::1/128']);
  const allow =
    options.allow === undefined || options.allow.length === 0 ? undefined : toBlockList(options.allow);
  const deny =
    options.deny === undefined || options.deny.length === 0 ? undefined : toBlockList(options.deny);
  const resolve = options.resolve ?? resolveAll;

  function checkAddress(address: string): AddressDecision {
    const ip = normaliseAddress(address);
    if (ip === undefined) return { allowed: false, reason: `not an IP address: ${address}` };
    const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    if (deny?.check(ip, family)) return { allowed: false, reason: `${ip} is in the deny list` };
    if (allow?.check(ip, family)) return ALLOWED;
    if (refused.check(ip, family))
      return { allowed: false, reason: `${ip} is a link-local, metadata or reserved address` };
    if (!allowLoopback && loopback.check(ip, family))
      return { allowed: false, reason: `${ip} is a loopback address` };
    if (allow !== undefined) return { allowed: false, reason: `${ip} is outside the allow list` };
    return ALLOWED;
  }

  async function checkUrl(url: URL): Promise<AddressDecision> {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host) !== 0) return checkAddress(host);
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch {
      return { allowed: false, reason: `host ${host} does not resolve` };
    }
    if (addresses.length === 0) return { allowed: false, reason: `host ${host} does not resolve` };
    // Every address must pass: the connection may be made to any of them.
    for (const address of addresses) {
      const decision = checkAddress(address);
      if (!decision.allowed) return { allowed: false, reason: `host ${host} resolves to ${decision.reason}` };
    }
    return ALLOWED;
  }

  return { checkAddress, checkUrl };
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** The shape of `dns.lookup` that `net.connect({ lookup })` calls. */
export type GuardedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => void;

/**
 * A `dns.lookup` replacement that drops every resolved address the policy refuses, so a host name that
 * passed at registration cannot later resolve to a metadata address (DNS rebinding). Pass it to undici as
 * `new Pool(origin, { connect: { lookup } })`; it fails with `EADDRNOTALLOWED` when nothing is left.
 */
export function createGuardedLookup(
  policy: AddressPolicy,
  lookup: typeof dnsLookup = dnsLookup,
): GuardedLookup {
  return function guardedLookup(hostname, options, callback) {
    const wantAll = options.all === true;
    lookup(hostname, { ...options, all: true }, (err, results) => {
      if (err) {
        callback(err, wantAll ? [] : '');
        return;
      }
      const allowed = (results as LookupAddress[]).filter(
        (entry) => policy.checkAddress(entry.address).allowed,
      );
      const first = allowed[0];
      if (first === undefined) {
        const refused = Object.assign(
          new Error(`every address of ${hostname} is refused by the address policy`),
          {
            code: 'EADDRNOTALLOWED',
            hostname,
          },
        );
        callback(refused, wantAll ? [] : '');
        return;
      }
      if (wantAll) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

/**
 * Reads an IPv4 address in any spelling `inet_aton` accepts — decimal `2852039166`, octal `0251.0376.0251.0376`,
 * hex `0xa9fea9fe`, short `169.254.43518` — as dotted quad, or undefined when it is not one.
 */
export function parseIpv4Loose(text: string): string | undefined {
  const parts = text.split('.');
  if (parts.length === 0 || parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part, 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part);
    else return undefined;
    numbers.push(value);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255) || last >= 256 ** (4 - numbers.length)) return undefined;
  let value = last;
  for (let i = 0; i < numbers.length; i++) value += (numbers[i] as number) * 256 ** (3 - i);
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Canonical text of an address; IPv6 forms that embed an IPv4 address become that IPv4 address. */
function normaliseAddress(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const version = isIP(bare);
  if (version === 4) return bare;
  if (version === 0) return parseIpv4Loose(bare);
  const words = expandIpv6(bare);
  if (words === undefined) return undefined;
  const embedded = embeddedIpv4(words);
  return embedded ?? bare.toLowerCase();
}

function embeddedIpv4(words: number[]): string | undefined {
  const [w0, w1, w2, w3, w4, w5, w6, w7] = words as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const zeroPrefix = w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0;
  const mapped = zeroPrefix && w5 === 0xffff;
  // ::/96 (deprecated IPv4-compatible) except :: and ::1, which keep their IPv6 meaning.
  const compatible = zeroPrefix && w5 === 0 && (w6 !== 0 || w7 > 1);
  const nat64 = w0 === 0x64 && w1 === 0xff9b && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0;
  if (!mapped && !compatible && !nat64) return undefined;
  return `${w6 >>> 8}.${w6 & 255}.${w7 >>> 8}.${w7 & 255}`;
}

function expandIpv6(text: string): number[] | undefined {
  let body = (text.split('%')[0] ?? '').toLowerCase();
  const lastColon = body.lastIndexOf(':');
  const dotted = body.slice(lastColon + 1);
  if (dotted.includes('.')) {
    const octets = dotted.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) return undefined;
    const [a, b, c, d] = octets as [number, number, number, number];
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) =>
    s === '' ? [] : s.split(':').map((h) => (/^[0-9a-f]{1,4}$/.test(h) ? parseInt(h, 16) : NaN));
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const words = [...head, ...new Array<number>(fill).fill(0), ...rest];
  return words.some((w) => Number.isNaN(w)) ? undefined : words;
}

function toBlockList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefixText] = entry.split('/');
    const ip = normaliseAddress(address);
    if (ip === undefined) throw new TypeError(`not an address or CIDR: ${entry}`);
    const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new TypeError(`bad prefix length in ${entry}`);
    list.addSubnet(ip, prefix, family);
  }
  return list;
}

function resolveAll(hostname: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (err, results) => {
      if (err) reject(err);
      else resolve(results.map((r) => r.address));
    });
  });
}
