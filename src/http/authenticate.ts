import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import { REPEATED_FAILURE_WINDOW_MS, type ApiTokens, type AuthThrottle, type Principal, type WebSessions } from '../identity/index.js';
import { contextOf } from './request-context.js';
import type { SessionCookies } from './session-cookie.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * On a public route, how a presented credential that does not work (an unknown, revoked or expired token; an altered,
     * revoked or expired session cookie) is recorded: `each` attempt (the default), or once per credential per
     * REPEATED_FAILURE_WINDOW_MS (GET /authz, which a proxy asks for every request a browser makes with its stale cookie).
     */
    failedCredentialAudit?: 'each' | 'once_per_window';
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** The CSRF token of the caller's web session (null for bearer and anonymous callers). */
    sessionCsrfToken: string | null;
  }
}

export interface Identified {
  principal: Principal;
  via: 'bearer' | 'cookie';
  /** The token this request is checked against: the session's when the request was made. */
  csrfToken: string | null;
  /** The token to hand out from now on: a new one when this request rotated the session, else `csrfToken`. */
  currentCsrfToken: string | null;
}

export interface Authenticator {
  /**
   * Who is calling: `Authorization: Bearer` (never a query parameter), else
   * the session cookie. A presented credential that does not work is audited
   * (a token failure also counts toward the client IP's limit: 429 once
   * blocked); with `required` it is then refused (401), without it (public
   * routes) the caller goes on as anonymous. A route with
   * `failedCredentialAudit: 'once_per_window'` records and counts one failing
   * credential once per window, not each request.
   */
  identify(request: FastifyRequest, reply: FastifyReply, required: boolean): Promise<Identified | null>;
  /** True when the request carries `Authorization: Bearer …` (exempt from CSRF checks: a browser never attaches one by itself). */
  hasBearer(request: FastifyRequest): boolean;
}

const BEARER = /^Bearer ([^\s]+)$/i;
const BEARER_SCHEME = /^Bearer(\s|$)/i;

function isBearer(header: string | undefined): boolean {
  return header !== undefined && BEARER_SCHEME.test(header);
}

/** On a public route the request went on as anonymous: said in the record, with how often its repeats are recorded. */
function routeDetails(request: FastifyRequest, required: boolean): Record<string, unknown> {
  if (required) return {};
  const once = request.routeOptions.config.failedCredentialAudit === 'once_per_window';
  return { publicRoute: true, ...(once ? { repeatsUnrecordedForSeconds: REPEATED_FAILURE_WINDOW_MS / 1000 } : {}) };
}

export function createAuthenticator(deps: {
  tokens: ApiTokens;
  sessions: WebSessions;
  trail: AuditTrail;
  throttle: AuthThrottle;
  cookies: SessionCookies;
}): Authenticator {
  const { tokens, sessions, trail, throttle, cookies } = deps;

  /**
   * Whether this failure is recorded (and a token failure counted): always, except for the repeats within the window of
   * one credential on a route that declares `once_per_window` (only a failure gets here: a passing check pays nothing).
   */
  const shouldRecord = async (request: FastifyRequest, required: boolean, credential: string) =>
    required || request.routeOptions.config.failedCredentialAudit !== 'once_per_window' || (await throttle.firstFailureOf(credential));

  /**
   * A presented but unknown token is audited before the 401 (fail closed: if
   * that cannot be recorded, the request gets 503). Too many failures from one
   * client IP block it for the rest of the window: its unknown tokens then get
   * 429, unrecorded (the block was recorded when it began). A valid token still
   * passes: tokens are 256 random bits, so the block buys no protection against
   * guessing for them, and refusing them would let one client behind a shared
   * address (NAT, a proxy not listed as trusted) lock every agent there out.
   * On a public route the caller then goes on as anonymous.
   */
  const bearer = async (request: FastifyRequest, header: string, required: boolean): Promise<Identified | null> => {
    const match = BEARER.exec(header);
    const principal = match ? await tokens.authenticate(match[1]!) : null;
    if (principal) return { principal, via: 'bearer', csrfToken: null, currentCsrfToken: null };
    await throttle.assertAllowed(request.ip);
    if (!(await shouldRecord(request, required, `bearer:${header}`))) return null;
    const verdict = await throttle.failed(request.ip);
    await trail.record({
      actor: { kind: 'user', id: 'anonymous' },
      action: 'auth.token.failed',
      outcome: 'failure',
      details: { reason: match ? 'unknown, revoked or expired token' : 'malformed authorization header', blocked: verdict.blocked, ...routeDetails(request, required) },
      ...contextOf(request),
    });
    if (verdict.blocked) throw new AppError('rate_limited', { data: { retryAfterSeconds: verdict.retryAfterSeconds } });
    if (!required) return null;
    throw new AppError('unauthenticated', { publicMessage: 'The token is invalid, revoked or expired.' });
  };

  const cookie = async (request: FastifyRequest, reply: FastifyReply, value: string, required: boolean): Promise<Identified | null> => {
    const resolved = await sessions.resolve(value);
    if (!resolved) {
      // Whatever it was (expired, revoked, altered), the browser should stop sending it.
      cookies.clear(reply, request);
      if (await shouldRecord(request, required, `cookie:${value}`)) {
        await trail.record({
          actor: { kind: 'user', id: 'anonymous' },
          action: 'auth.session.failed',
          outcome: 'failure',
          details: { reason: 'unknown, altered, revoked or expired session', ...routeDetails(request, required) },
          ...contextOf(request),
        });
      }
      if (!required) return null;
      throw new AppError('unauthenticated', { publicMessage: 'The session has ended; sign in again.' });
    }
    // A route whose answer never reaches the browser (GET /authz: the proxy drops it) must not rotate: the new cookie would be lost
    // and the old one would no longer work.
    if (resolved.rotate && request.routeOptions.config.sessionRotation !== false) {
      // Roles or groups changed since this cookie was issued: the new privileges come with a new session id and CSRF token.
      // This request was made under the old ones, so it is still checked against the old token (the web UI asks for the
      // new one when its next change is refused with csrf_failed).
      const rotated = await sessions.rotate(value);
      cookies.set(reply, request, rotated.cookieValue);
      return { principal: resolved.principal, via: 'cookie', csrfToken: resolved.csrfToken, currentCsrfToken: rotated.csrfToken };
    }
    return { principal: resolved.principal, via: 'cookie', csrfToken: resolved.csrfToken, currentCsrfToken: resolved.csrfToken };
  };

  return {
    hasBearer: (request) => isBearer(request.headers.authorization),
    async identify(request, reply, required) {
      const header = request.headers.authorization;
      // On a public route (GET /authz above all) another scheme is not ours to judge: an upstream app behind the proxy may use
      // Basic auth of its own, and the caller is then identified by our cookie. Elsewhere any Authorization header is judged.
      if (header !== undefined && (required || isBearer(header))) return bearer(request, header, required);
      const value = cookies.read(request);
      if (value !== undefined) return cookie(request, reply, value, required);
      if (required) throw new AppError('unauthenticated');
      return null;
    },
  };
}
