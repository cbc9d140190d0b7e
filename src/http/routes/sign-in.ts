import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import { PRE_AUTH_TTL_MS, type LocalSignIn, type SignedIn, type SignInContext, type WebSessions } from '../../identity/index.js';
import { endPreviousSession } from '../previous-session.js';
import { contextOf } from '../request-context.js';
import type { SessionCookies } from '../session-cookie.js';

export interface SignInRouteDeps {
  signIn: LocalSignIn;
  cookies: SessionCookies;
  /** To end the session the browser had before this sign-in. */
  sessions: Pick<WebSessions, 'resolve' | 'revoke'>;
}

/** The cookie that carries the pre-auth step between password and second factor. */
export const SIGN_IN_COOKIE = '__Host-webasset-signin';
export const INSECURE_SIGN_IN_COOKIE = 'webasset-signin';

const publicRoute = { access: { kind: 'public' } } as const;
const userSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    name: { type: 'string' },
    email: { type: ['string', 'null'] },
    roles: { type: 'array', items: { type: 'string' } },
    groups: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } },
  },
} as const;
const signedInSchema = {
  type: 'object',
  properties: {
    signedIn: { type: 'boolean' },
    mfaRequired: { type: 'boolean' },
    mfa: { type: 'boolean' },
    user: userSchema,
    csrfToken: { type: 'string' },
    recoveryCodes: { type: 'array', items: { type: 'string' } },
  },
} as const;
export const totpStartSchema = {
  type: 'object',
  properties: { secret: { type: 'string' }, otpauthUri: { type: 'string' }, qrSvg: { type: 'string' } },
} as const;
/** A TOTP or recovery code (sign-in, enrolment, new recovery codes). */
export const codeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['code'],
  properties: { code: { type: 'string', minLength: 1, maxLength: 16 } },
} as const;

/**
 * Local sign-in: POST /api/auth/login, then (when a second factor is needed)
 * POST /api/auth/login/mfa, or TOTP enrolment for an account that must use MFA
 * and has none. Each answer that creates a session sets the session cookie.
 */
export async function signInRoutes(app: FastifyInstance, deps: SignInRouteDeps): Promise<void> {
  const { signIn, cookies } = deps;
  const preAuthCookie = (request: FastifyRequest) => (cookies.isSecure(request) ? SIGN_IN_COOKIE : INSECURE_SIGN_IN_COOKIE);
  const setPreAuth = (reply: FastifyReply, request: FastifyRequest, id: string) =>
    void reply.setCookie(preAuthCookie(request), id, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: cookies.isSecure(request),
      maxAge: Math.floor(PRE_AUTH_TTL_MS / 1000),
    });
  const clearPreAuth = (reply: FastifyReply, request: FastifyRequest) =>
    void reply.clearCookie(preAuthCookie(request), { path: '/', httpOnly: true, sameSite: 'strict', secure: cookies.isSecure(request) });
  const readPreAuth = (request: FastifyRequest) => {
    const value = request.cookies[preAuthCookie(request)];
    if (typeof value !== 'string' || value === '') throw new AppError('login_expired');
    return value;
  };
  const context = (request: FastifyRequest): SignInContext => ({ ...contextOf(request), sourceIp: request.ip });
  const sessionAnswer = async (reply: FastifyReply, request: FastifyRequest, done: SignedIn) => {
    await endPreviousSession(request, deps);
    cookies.set(reply, request, done.session.cookieValue);
    clearPreAuth(reply, request);
    return { signedIn: true, mfaRequired: false, mfa: done.mfa, user: done.user, csrfToken: done.session.csrfToken };
  };

  app.post(
    '/api/auth/login',
    {
      config: publicRoute,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'password'],
          properties: { username: { type: 'string', maxLength: 512 }, password: { type: 'string', maxLength: 4096 } },
        },
        response: { 200: signedInSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as { username: string; password: string };
      const result = await signIn.password(body, context(request));
      if (result.kind === 'signed_in') return sessionAnswer(reply, request, result.signedIn);
      setPreAuth(reply, request, result.preAuthId);
      if (result.kind === 'mfa') return { signedIn: false, mfaRequired: true };
      // The error answer keeps the pre-auth cookie set above: with it the user may enrol, and nothing else.
      throw new AppError('mfa_enrolment_required');
    },
  );

  app.post(
    '/api/auth/login/mfa',
    {
      config: publicRoute,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          maxProperties: 1,
          properties: { code: { type: 'string', minLength: 1, maxLength: 16 }, recoveryCode: { type: 'string', minLength: 1, maxLength: 64 } },
        },
        response: { 200: signedInSchema },
      },
    },
    async (request, reply) => {
      const body = request.body as { code?: string; recoveryCode?: string };
      const done = await signIn.secondFactor(readPreAuth(request), body, context(request));
      return sessionAnswer(reply, request, done);
    },
  );

  app.post('/api/auth/login/enrol/totp/start', { config: publicRoute, schema: { response: { 200: totpStartSchema } } }, async (request) =>
    signIn.startEnrolment(readPreAuth(request), context(request)),
  );

  app.post(
    '/api/auth/login/enrol/totp/confirm',
    { config: publicRoute, schema: { body: codeBody, response: { 200: signedInSchema } } },
    async (request, reply) => {
      const { code } = request.body as { code: string };
      const done = await signIn.confirmEnrolment(readPreAuth(request), code, context(request));
      return { ...(await sessionAnswer(reply, request, done)), recoveryCodes: done.recoveryCodes };
    },
  );
}
