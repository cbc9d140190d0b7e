import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ForwardAuthGate, ReturnUrlPolicy } from '../../access/index.js';
import { AppError, ERROR_CODES } from '../../core/index.js';
import type { ErrorBody } from '../errors.js';
import type { LoadShedder } from '../load-shed.js';
import { forwardedRequest, type ForwardedRequest } from '../forwarded-request.js';
import type { Principal } from '../../identity/index.js';
import { contextOf } from '../request-context.js';

/**
 * GET /authz: the question a reverse proxy (Traefik forwardAuth, nginx
 * auth_request, Caddy forward_auth) asks before each request it forwards:
 * who is this, and may they reach this host?
 *
 * 200 + X-Webasset-User/-Email/-Groups: pass, and tell the upstream who it is.
 * 401 + Location: nobody signed in; the sign-in URL carries the original URL
 *     as `returnTo` only when that URL's host is allowlisted (no open redirect).
 * 403: signed in, but the host's rule is not met (audited `auth.denied`).
 * 503 server_busy: shed under overload; proxies turn it into an error, never into access.
 *
 * The facts about the original request (X-Forwarded-Host/-Proto/-Uri/-Method)
 * are read only from a trusted proxy. Identity headers a client sends are never
 * read here: identity comes only from our cookie or our bearer token.
 *
 * Successful checks are not audited: proxies call this for every request of
 * every page (scripts, images, XHR), so an audit record each time would turn
 * the trail into an access log and its writes into the ceiling of every
 * protected site. The decision that matters (sign-in, session start, denial)
 * is audited where it happens; passes are counted and logged at debug.
 */
export interface ForwardAuthRouteOptions {
  gate: ForwardAuthGate;
  returnUrls: ReturnUrlPolicy;
  /** Where a browser signs in (absolute URL); undefined: 401 without Location. */
  signInUrl: string | undefined;
  /** Whether the direct peer is a trusted proxy (for the headers Fastify does not interpret). */
  isTrustedProxy(peer: string | undefined): boolean;
  stats: ForwardAuthStats;
}

/** Outcome counters of GET /authz since start (successful checks are counted, not audited). */
export interface ForwardAuthStats {
  allowed: number;
  /** Of `allowed`, the passes answered by the fast path (forward-auth-fast-path.ts). */
  allowedFast: number;
  unauthenticated: number;
  forbidden: number;
  shed: number;
}

export function createForwardAuthStats(): ForwardAuthStats {
  return { allowed: 0, allowedFast: 0, unauthenticated: 0, forbidden: 0, shed: 0 };
}

export const IDENTITY_HEADERS = { user: 'x-webasset-user', email: 'x-webasset-email', groups: 'x-webasset-groups' } as const;

/** Name of the return-URL parameter added to the sign-in URL (the same as the OIDC login's). */
export const RETURN_URL_PARAM = 'returnTo';

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        requestId: { type: 'string' },
        details: { type: 'object', properties: { signInUrl: { type: 'string' } }, additionalProperties: false },
      },
      required: ['code', 'message', 'requestId'],
      additionalProperties: false,
    },
  },
  required: ['error'],
  additionalProperties: false,
} as const;

export async function forwardAuthRoutes(app: FastifyInstance, options: ForwardAuthRouteOptions): Promise<void> {
  const { gate, returnUrls, stats } = options;

  app.get<{ Querystring: { redirect?: boolean } }>(
    '/authz',
    {
      // The proxy never passes this answer's Set-Cookie to the browser, so the session is never rotated here; and a browser
      // keeps sending a stale cookie with every request it makes, so a failing credential is recorded once a minute, not each time.
      config: { access: { kind: 'public' }, sessionRotation: false, failedCredentialAudit: 'once_per_window' },
      // The answer goes to the proxy, never rendered by a browser: page security headers (CSP, framing, COOP) mean nothing
      // here and cost a tenth of a check. The proxy adds its own to the upstream's pages.
      helmet: false,
      // Proxies call this for every asset of every page: two request log lines each would be an access log at info level
      // (the proxy keeps one). Denials are audited; warnings and errors are still logged.
      logLevel: 'warn',
      schema: {
        querystring: {
          type: 'object',
          properties: { redirect: { type: 'boolean', description: 'Answer an anonymous GET/HEAD with 302 to the sign-in page instead of 401 (Traefik, Caddy).' } },
          additionalProperties: false,
        },
        response: { 401: errorSchema, 302: errorSchema },
      },
    },
    async (request, reply) => {
      const original = forwardedRequest(request.raw, options.isTrustedProxy(request.socket.remoteAddress));
      // Identified by the route-access guard (cookie, or `Authorization: Bearer`), like every route.
      const principal = request.principal;
      if (!principal) return unauthenticated(request, reply, original);
      try {
        await gate.check(principal, original.host, contextOf(request));
      } catch (error) {
        if (error instanceof AppError && error.code === 'forbidden') stats.forbidden += 1;
        throw error;
      }
      stats.allowed += 1;
      request.log.debug({ host: original.host, user: principal.id }, 'forward auth: allowed');
      return reply.headers(identityHeaders(principal)).code(200).send();
    },
  );

  function unauthenticated(request: FastifyRequest<{ Querystring: { redirect?: boolean } }>, reply: FastifyReply, original: ForwardedRequest) {
    stats.unauthenticated += 1;
    const returnTo = returnUrls.fromForwarded(original);
    const signIn = signInLocation(options.signInUrl, returnTo);
    request.log.debug({ host: original.host, returnUrl: returnTo !== undefined }, 'forward auth: not signed in');
    // A redirected POST would lose its body and replay as GET: only reads are redirected.
    const navigable = original.method === undefined || original.method === 'GET' || original.method === 'HEAD';
    const redirect = request.query.redirect === true && signIn !== undefined && navigable;
    const body: ErrorBody = {
      error: { code: 'unauthenticated', message: 'Sign in first.', requestId: request.id, ...(signIn ? { details: { signInUrl: signIn } } : {}) },
    };
    if (signIn) void reply.header('location', signIn);
    void reply.header('www-authenticate', 'Bearer realm="webasset"');
    return reply
      .code(redirect ? 302 : 401)
      .type('application/json; charset=utf-8')
      .send(body);
  }
}

function signInLocation(signInUrl: string | undefined, returnTo: string | undefined): string | undefined {
  if (signInUrl === undefined) return undefined;
  const url = new URL(signInUrl);
  if (returnTo !== undefined) url.searchParams.set(RETURN_URL_PARAM, returnTo);
  return url.href;
}

/**
 * Header values are percent-encoded UTF-8 (as encodeURIComponent): plain
 * names stay as they are, and nothing a user can name themselves (CR, LF,
 * commas, non-Latin-1 letters) can split a header or a group list.
 */
export function headerValue(text: string): string {
  return encodeURIComponent(text);
}

/** The three identity headers of a pass (the route's and the fast path's). */
export function identityHeaders(principal: Principal): Record<string, string> {
  return {
    [IDENTITY_HEADERS.user]: headerValue(principal.username ?? principal.id),
    [IDENTITY_HEADERS.email]: headerValue(principal.email ?? ''),
    [IDENTITY_HEADERS.groups]: principal.groups.map((g) => headerValue(g.name)).sort().join(','),
  };
}

/** The 503 of a shed check, small and fixed (the Fastify hook's and the fast path's). */
export function shedAnswer(requestId: string): { headers: Record<string, string>; body: string } {
  const body: ErrorBody = { error: { code: 'server_busy', message: ERROR_CODES.server_busy.message, requestId } };
  return {
    headers: { 'x-request-id': requestId, 'cache-control': 'no-store', 'retry-after': '1', 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

/** The path whose checks are shed under overload. */
export const AUTHZ_PATH = '/authz';

/**
 * Sheds GET /authz under overload before anything else runs for it (the
 * route-access guard would otherwise resolve the session first). Register on
 * the root instance before the route-access hook; closed with the server.
 */
export function registerForwardAuthShedding(app: FastifyInstance, options: { shedder: LoadShedder; stats: ForwardAuthStats }): void {
  const { shedder } = options;
  app.decorateRequest('authzAdmitted', false);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== AUTHZ_PATH) return;
    if (!shedder.enter()) {
      options.stats.shed += 1;
      // Answered here, not thrown: the error path logs every 5xx, and a log line per shed request is more load.
      request.log.debug('forward auth: shed');
      const shed = shedAnswer(request.id);
      return reply.code(503).headers(shed.headers).send(shed.body);
    }
    // Set before leave() can run: onResponse fires once per request, also for errors.
    request.authzAdmitted = true;
  });
  // Whichever comes first (the response, or the client going away) releases the slot, once.
  const release = async (request: FastifyRequest) => {
    if (!request.authzAdmitted) return;
    request.authzAdmitted = false;
    shedder.leave();
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', release);
  app.addHook('onClose', async () => shedder.close());
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: requests to this route never rotate the session (their Set-Cookie would not reach the browser). */
    sessionRotation?: boolean;
  }
  interface FastifyRequest {
    /** Counted in the ForwardAuth in-flight cap (load shedding). */
    authzAdmitted: boolean;
  }
}
