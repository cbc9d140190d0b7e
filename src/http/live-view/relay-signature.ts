import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';

/** The header a relaying node adds: `v1;t=<ms>;n=<node id>;s=<base64url HMAC>`. */
export const RELAY_HEADER = 'x-webasset-relay';
/** How far a relayed request's time may be from ours (clock skew and transit). */
const MAX_SKEW_MS = 30_000;
const MAX_NODE_ID = 128;

/** What the relaying node says about the client, believed by the holding node only under a valid signature. */
export interface ForwardedFacts {
  /** The client's address as the relaying node determined it (its own trusted proxies applied). */
  ip: string;
  proto: 'http' | 'https';
  host: string;
}

export interface RelaySigner {
  /** The headers of a relayed request: X-Forwarded-For/-Proto/-Host and the signature over them. */
  headers(method: string, path: string, origin: string, facts: ForwardedFacts, fromNode: string): Record<string, string>;
  /** The forwarded facts of a request whose signature holds; null for anything else (then it is a direct request). */
  verify(request: { method: string; url: string; headers: FastifyRequest['headers'] }): (ForwardedFacts & { fromNode: string }) | null;
}

/**
 * Signs and checks relayed live-view requests with a key derived from
 * WEBASSET_CLUSTER_KEY (HKDF, its own purpose label), so the raw key can
 * serve other cluster purposes later without one signature standing for
 * another. The MAC covers the method, path, Origin, the forwarded facts,
 * the relaying node and the time: none of them can be changed or replayed
 * onto another request beyond the skew window.
 */
export function createRelaySigner(options: { clusterKey: string; now?: () => number }): RelaySigner {
  const raw = Buffer.from(options.clusterKey, 'base64');
  if (raw.length !== 32) throw new TypeError('createRelaySigner: clusterKey must be 32 bytes, base64');
  const key = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'webasset live-view relay v1', 32));
  raw.fill(0);
  const now = options.now ?? Date.now;
  const mac = (fields: string[]) => createHmac('sha256', key).update(fields.join('\n'), 'utf8').digest();

  return {
    headers(method, path, origin, facts, fromNode) {
      const t = String(now());
      const s = mac(['v1', method, path, origin, facts.ip, facts.proto, facts.host, fromNode, t]).toString('base64url');
      return {
        'x-forwarded-for': facts.ip,
        'x-forwarded-proto': facts.proto,
        'x-forwarded-host': facts.host,
        [RELAY_HEADER]: `v1;t=${t};n=${encodeURIComponent(fromNode)};s=${s}`,
      };
    },

    verify(request) {
      const header = request.headers[RELAY_HEADER];
      if (typeof header !== 'string' || header.length > 512) return null;
      const m = /^v1;t=(\d{1,16});n=([^;]{1,400});s=([A-Za-z0-9_-]{43})$/.exec(header);
      if (!m) return null;
      const t = Number(m[1]);
      if (!Number.isSafeInteger(t) || Math.abs(now() - t) > MAX_SKEW_MS) return null;
      let fromNode: string;
      try {
        fromNode = decodeURIComponent(m[2]!);
      } catch {
        return null;
      }
      const ip = single(request.headers['x-forwarded-for']);
      const proto = single(request.headers['x-forwarded-proto']);
      const host = single(request.headers['x-forwarded-host']);
      const origin = single(request.headers.origin) ?? '';
      if (!ip || isIP(ip) === 0 || (proto !== 'http' && proto !== 'https') || !host || fromNode === '' || fromNode.length > MAX_NODE_ID) return null;
      const expected = mac(['v1', request.method, request.url, origin, ip, proto, host, fromNode, m[1]!]);
      const presented = Buffer.from(m[3]!, 'base64url');
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return null;
      return { ip, proto, host, fromNode };
    },
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value !== '' && !value.includes(',') ? value.trim() : undefined;
}

const relayed = new WeakSet<FastifyRequest>();

/**
 * An onRequest hook, first of all: a request relayed by another node with a
 * valid signature takes the client's address, scheme and host from the
 * forwarded headers (so every audit record, rate limit and Origin check sees
 * the real client); any other request is left as it is, its forwarded
 * headers meaning only what WEBASSET_TRUSTED_PROXIES lets them mean.
 */
export function createRelayTrust(signer: RelaySigner) {
  // Anyone can send the header, before any rate limit: a warning at most once a minute, the rest at debug.
  let lastWarnedAt = -Infinity;
  return async function trustRelayed(request: FastifyRequest): Promise<void> {
    if (request.headers[RELAY_HEADER] === undefined) return;
    const facts = signer.verify({ method: request.raw.method ?? '', url: request.raw.url ?? '', headers: request.headers });
    if (!facts) {
      const now = performance.now();
      const level = now - lastWarnedAt >= 60_000 ? 'warn' : 'debug';
      if (level === 'warn') lastWarnedAt = now;
      request.log[level]('a request carried a relay signature that does not hold; treated as a direct request (warned at most once a minute)');
      return;
    }
    // Own properties shadow Fastify's getters for this request only.
    Object.defineProperty(request, 'ip', { value: facts.ip, configurable: true });
    Object.defineProperty(request, 'ips', { value: [facts.ip], configurable: true });
    Object.defineProperty(request, 'protocol', { value: facts.proto, configurable: true });
    Object.defineProperty(request, 'host', { value: facts.host, configurable: true });
    relayed.add(request);
  };
}

/** Whether the request came from another node with a valid signature (such a request is never relayed again). */
export function isRelayed(request: FastifyRequest): boolean {
  return relayed.has(request);
}
