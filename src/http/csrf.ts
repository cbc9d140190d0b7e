import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** Header a browser script sends back with the token from `GET /api/auth/session`. */
export const CSRF_HEADER = 'x-csrf-token';

export type CsrfProblem = 'cross_site' | 'missing_token' | 'wrong_token';

export interface CsrfGuard {
  /** Whether the request comes from our own origin (or an allowlisted one) as far as the browser says; null when it does. */
  checkOrigin(request: FastifyRequest): CsrfProblem | null;
  /** Compares the header with the session's token in constant time; null when they match. */
  checkToken(request: FastifyRequest, expected: string): CsrfProblem | null;
}

/**
 * Two independent checks for state-changing requests that ride on the
 * cookie: the browser's own statement of where the request came from
 * (`Origin`, `Sec-Fetch-Site`), and a synchronizer token bound to the session
 * that another site cannot read (CORS is closed to it).
 */
export function createCsrfGuard(options: { publicUrl?: string | undefined; trustedOrigins: readonly string[] }): CsrfGuard {
  const trusted = new Set(options.trustedOrigins);
  if (options.publicUrl) trusted.add(new URL(options.publicUrl).origin);
  // Scheme and Host as this server saw them (Host from a trusted proxy only): a forged request cannot make Origin match them.
  const ownOrigin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

  return {
    checkOrigin(request) {
      const origin = request.headers.origin;
      const site = request.headers['sec-fetch-site'];
      if (typeof origin === 'string') {
        // "null" is an opaque origin (sandboxed frame, data: URL): never ours.
        return origin === ownOrigin(request) || trusted.has(origin) ? null : 'cross_site';
      }
      // No Origin (an old browser, or not a browser): Sec-Fetch-Site still tells a sibling subdomain or another site apart.
      if (site === 'cross-site' || site === 'same-site') return 'cross_site';
      return null;
    },

    checkToken(request, expected) {
      const presented = request.headers[CSRF_HEADER];
      if (typeof presented !== 'string' || presented === '') return 'missing_token';
      // Digests have equal length, so timingSafeEqual never throws and the length of the token does not leak either.
      return timingSafeEqual(digest(presented), digest(expected)) ? null : 'wrong_token';
    },
  };
}

export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}
