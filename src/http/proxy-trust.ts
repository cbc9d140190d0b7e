import { BlockList, isIP } from 'node:net';

/** The ranges behind the keywords WEBASSET_TRUSTED_PROXIES accepts (the same as Fastify's proxy-addr). */
const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  linklocal: [
    ['169.254.0.0', 16, 'ipv4'],
    ['fe80::', 10, 'ipv6'],
  ],
  uniquelocal: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['fc00::', 7, 'ipv6'],
  ],
};

/**
 * Whether the direct peer of a connection is one of the configured proxies,
 * for the forwarded headers Fastify does not interpret (X-Forwarded-Uri,
 * -Method). Matching uses node's BlockList, which also matches IPv4-mapped
 * IPv6 peers (::ffff:127.0.0.1) against IPv4 ranges.
 */
export function createProxyTrust(entries: readonly string[]): (peer: string | undefined) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const named = NAMED_RANGES[entry];
    if (named) {
      for (const [net, bits, type] of named) list.addSubnet(net, bits, type);
      continue;
    }
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  // A proxy asks from a handful of addresses, once per request and several times per request (client IP, host, protocol):
  // remember the answers, so the hot path (GET /authz) parses no address. Bounded, so clients cannot grow it.
  const known = new Map<string, boolean>();
  return (peer) => {
    if (!peer) return false;
    const hit = known.get(peer);
    if (hit !== undefined) return hit;
    const family = isIP(peer);
    const trusted = family !== 0 && list.check(peer, family === 6 ? 'ipv6' : 'ipv4');
    if (known.size >= MEMO_MAX) known.clear();
    known.set(peer, trusted);
    return trusted;
  };
}

const MEMO_MAX = 4096;
