import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { Principal, WebSessions } from '../../identity/index.js';
import type { SessionCookies } from '../session-cookie.js';

export interface SessionRouteDeps {
  sessions: WebSessions;
  cookies: SessionCookies;
  /** For a session from OIDC, the provider's logout URL (RP-initiated logout), or null. */
  oidcLogoutUrl?: ((oidc: { idTokenHint?: string | undefined; sid?: string | undefined }) => Promise<string | null>) | undefined;
}

const nullableString = { type: ['string', 'null'] } as const;
const groupSchema = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } as const;

const whoAmI = {
  type: 'object',
  properties: {
    user: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        kind: { type: 'string' },
        username: nullableString,
        name: { type: 'string' },
        email: nullableString,
        roles: { type: 'array', items: { type: 'string' } },
        groups: { type: 'array', items: groupSchema },
      },
    },
    via: { type: 'string', enum: ['session', 'api_token', 'cli'] },
    mfa: { type: 'boolean' },
    sessionId: nullableString,
    csrfToken: nullableString,
    scopes: { type: ['array', 'null'], items: { type: 'string' } },
  },
} as const;

const sessionSummary = {
  type: 'object',
  properties: {
    sessionId: { type: 'string' },
    current: { type: 'boolean' },
    createdAt: { type: 'string' },
    lastSeenAt: { type: 'string' },
    expiresAt: { type: 'string' },
    method: { type: 'string' },
    mfa: { type: 'boolean' },
    sourceIp: nullableString,
  },
} as const;

const signedIn = { access: { kind: 'authenticated' } } as const;

/** A web session's own routes: who am I (and my CSRF token), sign out here or everywhere, my sessions. */
export async function sessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): Promise<void> {
  const { sessions, cookies } = deps;

  app.get('/api/auth/session', { config: signedIn, schema: { response: { 200: whoAmI } } }, async (request) => {
    const principal = request.principal as Principal;
    return {
      user: { id: principal.id, kind: principal.kind, username: principal.username ?? null, name: principal.name, email: principal.email ?? null, roles: principal.roles, groups: principal.groups },
      via: principal.via,
      mfa: principal.mfa,
      sessionId: principal.sessionId ?? null,
      csrfToken: request.sessionCsrfToken,
      scopes: principal.scopes ?? null,
    };
  });

  app.post(
    '/api/auth/logout',
    { config: signedIn, schema: { response: { 200: { type: 'object', properties: { loggedOut: { type: 'boolean' }, logoutUrl: nullableString } } } } },
    async (request, reply) => {
      const sessionId = ownSession(request);
      // Read before the session goes: RP-initiated logout needs the id token hint.
      const oidc = deps.oidcLogoutUrl ? await sessions.oidcOf(sessionId) : null;
      await sessions.revoke(sessionId, request.principal, 'logout');
      cookies.clear(reply, request);
      const logoutUrl = oidc && deps.oidcLogoutUrl ? await deps.oidcLogoutUrl(oidc) : null;
      return { loggedOut: true, logoutUrl };
    },
  );

  app.post(
    '/api/auth/logout-all',
    { config: signedIn, schema: { response: { 200: { type: 'object', properties: { ended: { type: 'integer' } } } } } },
    async (request, reply) => {
      const principal = request.principal as Principal;
      ownSession(request);
      const ended = await sessions.revokeAllForUser(principal.id, principal, 'logout_all');
      cookies.clear(reply, request);
      return { ended };
    },
  );

  app.get(
    '/api/auth/sessions',
    { config: signedIn, schema: { response: { 200: { type: 'object', properties: { sessions: { type: 'array', items: sessionSummary } } } } } },
    async (request) => {
      const principal = request.principal as Principal;
      const list = await sessions.listForUser(principal.id);
      return { sessions: list.map((s) => ({ ...s, current: s.sessionId === principal.sessionId })) };
    },
  );

  app.delete(
    '/api/auth/sessions/:id',
    {
      config: signedIn,
      schema: {
        params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null' } },
      },
    },
    async (request, reply) => {
      const principal = request.principal as Principal;
      const { id } = request.params as { id: string };
      // Own sessions only; another user's id answers exactly like an unknown one.
      const mine = (await sessions.listForUser(principal.id)).some((s) => s.sessionId === id);
      if (!mine || !(await sessions.revoke(id, principal, 'session_revoked'))) throw new AppError('not_found', { publicMessage: 'No such session.' });
      if (id === principal.sessionId) cookies.clear(reply, request);
      return reply.status(204).send();
    },
  );
}

/** These routes act on web sessions; a token caller has none (tokens are revoked, not logged out). */
function ownSession(request: FastifyRequest): string {
  const sessionId = request.principal?.sessionId;
  if (request.principal?.via !== 'session' || !sessionId) {
    throw new AppError('invalid_request', { publicMessage: 'Only a web session can sign out; API tokens are revoked instead.' });
  }
  return sessionId;
}

