import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Matches client addresses against a list of addresses and CIDR ranges (trusted proxies).
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, as Node reports IPv4 peers on dual-stack sockets)
 * are checked as the IPv4 address they carry.
 */
export interface AddressMatcher {
  readonly empty: boolean;
  has(address: string | undefined): boolean;
}

export function createAddressMatcher(entries: readonly string[]): AddressMatcher {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefixText] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    if (family === undefined) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    if (prefixText === undefined) list.addAddress(address, family);
    else {
      const prefix = Number(prefixText);
      const max = family === 'ipv4' ? 32 : 128;
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
        throw new Error(`"${entry}" has an invalid prefix`);
      list.addSubnet(address, prefix, family);
    }
  }
  const empty = entries.length === 0;
  return {
    empty,
    has(address) {
      if (empty || address === undefined) return false;
      if (address.startsWith('::ffff:') && isIPv4(address.slice(7)))
        return list.check(address.slice(7), 'ipv4');
      return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
    },
  };
}
