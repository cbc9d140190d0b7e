import type { FastifyRequest } from 'fastify';
import { AppError } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { ApiTokens, AuthThrottle, Principal } from '../identity/index.js';
import { contextOf } from './request-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Identifies the caller of an /api route from `Authorization: Bearer`.
 * Tokens are accepted only in that header, never in a query string.
 * A presented but unknown token is audited before the 401 (fail closed: if
 * that cannot be recorded, the request gets 503). Too many failures from one
 * client IP block it for the rest of the window (429), valid tokens included.
 */
export function createAuthenticate(deps: { tokens: ApiTokens; trail: AuditTrail; throttle: AuthThrottle }) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    if (!header) throw new AppError('unauthenticated');
    await deps.throttle.assertAllowed(request.ip);
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    const principal = match ? await deps.tokens.authenticate(match[1]!) : null;
    if (!principal) {
      const verdict = await deps.throttle.failed(request.ip);
      await deps.trail.record({
        actor: { kind: 'user', id: 'anonymous' },
        action: 'auth.token.failed',
        outcome: 'failure',
        details: { reason: match ? 'unknown, revoked or expired token' : 'malformed authorization header', blocked: verdict.blocked },
        ...contextOf(request),
      });
      if (verdict.blocked) throw new AppError('rate_limited', { data: { retryAfterSeconds: verdict.retryAfterSeconds } });
      throw new AppError('unauthenticated', { publicMessage: 'The token is invalid, revoked or expired.' });
    }
    request.principal = principal;
  };
}
