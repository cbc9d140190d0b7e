import type { FastifyRequest } from 'fastify';
import { createRateLimiter, type SharedState } from '../cluster/index.js';
import type { Principal } from '../identity/index.js';
import { isRelayed } from './live-view/relay-signature.js';

type ApiRule = 'api.ip' | 'api.principal';

export interface ApiRateLimit {
  /**
   * Whether a request is counted: the API and MCP, not health probes, not ForwardAuth (every page load of a portal passes it),
   * and not a request another node relayed here (that node counted it already, on the same shared counters).
   */
  applies(request: FastifyRequest): boolean;
  /** Counts the request against its client IP; rejects `rate_limited` (429 + Retry-After) past the limit. */
  checkIp(request: FastifyRequest): Promise<void>;
  /** Counts it against the signed-in user or the token. */
  checkPrincipal(principal: Principal): Promise<void>;
}

/** The general API limit (WEBASSET_API_RATE_LIMIT per minute), on shared state so every node counts together. */
export function createApiRateLimit(options: { state: SharedState; perMinute: number }): ApiRateLimit {
  const rule = { limit: options.perMinute, windowMs: 60_000 };
  const limiter = createRateLimiter<ApiRule>({ state: options.state, rules: { 'api.ip': rule, 'api.principal': rule } });
  return {
    applies(request) {
      if (isRelayed(request)) return false;
      return isApiPath(routePath(request)) || isMcpPath(routePath(request));
    },
    async checkIp(request) {
      await limiter.check('api.ip', request.ip);
    },
    async checkPrincipal(principal) {
      // A token is limited on its own; a person across all their sessions.
      await limiter.check('api.principal', principal.tokenId ? `token:${principal.tokenId}` : `user:${principal.id}`);
    },
  };
}

/**
 * The matched route's pattern, else the raw path: the router decodes
 * percent-escapes, so `/%61pi/x` can reach an /api route while its raw URL
 * does not start with /api.
 */
export function routePath(request: FastifyRequest): string {
  return request.routeOptions.url ?? request.url.split('?')[0]!;
}

export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

export function isMcpPath(path: string): boolean {
  return path === '/mcp' || path.startsWith('/mcp/');
}
