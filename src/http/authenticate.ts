import type { FastifyRequest } from 'fastify';
import { AppError } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { ApiTokens, Principal } from '../identity/index.js';
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
 * that cannot be recorded, the request gets 503).
 */
export function createAuthenticate(deps: { tokens: ApiTokens; trail: AuditTrail }) {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization;
    if (!header) throw new AppError('unauthenticated');
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    const principal = match ? await deps.tokens.authenticate(match[1]!) : null;
    if (!principal) {
      await deps.trail.record({
        actor: { kind: 'user', id: 'anonymous' },
        action: 'auth.token.failed',
        outcome: 'failure',
        details: { reason: match ? 'unknown, revoked or expired token' : 'malformed authorization header' },
        ...contextOf(request),
      });
      throw new AppError('unauthenticated', { publicMessage: 'The token is invalid, revoked or expired.' });
    }
    request.principal = principal;
  };
}
