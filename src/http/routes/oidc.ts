import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { OidcSignIn, WebSessions } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { endPreviousSession } from '../previous-session.js';
import type { SessionCookies } from '../session-cookie.js';

export interface OidcRouteDeps {
  /** Null when OIDC_ISSUER is unset: the routes answer `sso_not_configured`. */
  oidc: OidcSignIn | null;
  cookies: SessionCookies;
  /** To end the session this browser had before signing in again (a shared machine, another person). */
  sessions: Pick<WebSessions, 'resolve' | 'revoke'>;
}

/**
 * The sign-in transaction cookie: only a random id (the verifier, state and
 * nonce stay server-side), only sent to /auth/oidc, gone after 10 minutes or
 * at the callback. Lax, so the provider's top-level redirect back carries it.
 */
export const OIDC_TRANSACTION_COOKIE = 'webasset-oidc';
/** The same over https: `__Secure-` makes browsers refuse it from a plain-http page (a sibling host cannot plant one). */
export const SECURE_OIDC_TRANSACTION_COOKIE = '__Secure-webasset-oidc';
const COOKIE_PATH = '/auth/oidc';

const loginQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { returnTo: { type: 'string', maxLength: 2048 } },
} as const;

// The provider decides what it sends back (code, state, iss, session_state, error...): read, never trusted.
const callbackQuery = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 4096 },
  maxProperties: 20,
} as const;

/** GET /auth/oidc/login, GET /auth/oidc/callback, GET /auth/oidc/logged-out. */
export async function oidcRoutes(app: FastifyInstance, deps: OidcRouteDeps): Promise<void> {
  const configured = (): OidcSignIn => {
    if (!deps.oidc) throw new AppError('sso_not_configured');
    return deps.oidc;
  };
  const cookieAttributes = (request: FastifyRequest) =>
    ({ path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: deps.cookies.isSecure(request) }) as const;
  const cookieName = (request: FastifyRequest) => (deps.cookies.isSecure(request) ? SECURE_OIDC_TRANSACTION_COOKIE : OIDC_TRANSACTION_COOKIE);
  const clearTransaction = (reply: FastifyReply, request: FastifyRequest) => void reply.clearCookie(cookieName(request), cookieAttributes(request));

  app.get(
    '/auth/oidc/login',
    { config: { access: { kind: 'public' } }, schema: { querystring: loginQuery } },
    async (request, reply) => {
      const oidc = configured();
      const { returnTo } = request.query as { returnTo?: string };
      const { redirectUrl, transactionId } = await oidc.begin({ returnTo, context: contextOf(request) });
      void reply.setCookie(cookieName(request), transactionId, { ...cookieAttributes(request), maxAge: Math.floor(oidc.transactionTtlMs / 1000) });
      return reply.redirect(redirectUrl, 303);
    },
  );

  app.get(
    '/auth/oidc/callback',
    { config: { access: { kind: 'public' } }, schema: { querystring: callbackQuery } },
    async (request, reply) => {
      const oidc = configured();
      const transactionId = request.cookies[cookieName(request)];
      // Single use whatever happens next; set before any refusal so the error answer carries it too.
      clearTransaction(reply, request);
      const callbackUrl = new URL(request.url, 'http://callback.invalid');
      const result = await oidc.complete({ callbackUrl, transactionId: transactionId || undefined, context: contextOf(request) });
      await endPreviousSession(request, deps);
      deps.cookies.set(reply, request, result.cookieValue);
      return reply.redirect(result.returnTo, 303);
    },
  );

  // Where the provider sends the browser after RP-initiated logout (registered there as post_logout_redirect_uri).
  app.get(
    '/auth/oidc/logged-out',
    {
      config: { access: { kind: 'public' } },
      schema: {
        querystring: { type: 'object', additionalProperties: { type: 'string', maxLength: 4096 }, maxProperties: 10 },
        response: { 200: { type: 'object', properties: { signedOut: { type: 'boolean' } } } },
      },
    },
    async () => ({ signedOut: true }),
  );
}
