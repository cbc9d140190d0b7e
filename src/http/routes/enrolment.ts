import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { AuthThrottle, Enrolment, Mfa, Principal } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { codeBody, totpStartSchema } from './sign-in.js';

export interface EnrolmentRouteDeps {
  enrolment: Enrolment;
  mfa: Mfa;
  /** Unknown enrolment tokens count as failed sign-ins of the client IP. */
  throttle: AuthThrottle;
}

const publicRoute = { access: { kind: 'public' } } as const;
const signedIn = { access: { kind: 'authenticated' } } as const;
const tokenParams = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;
const stateSchema = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    displayName: { type: 'string' },
    purpose: { type: 'string' },
    passwordStep: { type: 'boolean' },
    totpStep: { type: 'boolean' },
    expiresAt: { type: 'string' },
    done: { type: 'boolean' },
  },
} as const;
const recoverySchema = { type: 'object', properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } } as const;

/**
 * Enrolment through a one-time link (first password, then TOTP), and a signed-in
 * user's own MFA: enrol TOTP, replace recovery codes.
 */
export async function enrolmentRoutes(app: FastifyInstance, deps: EnrolmentRouteDeps): Promise<void> {
  const { enrolment, mfa, throttle } = deps;

  /** Runs a link step; an invalid link counts toward the client IP's failure limit. */
  const withLink = async <T>(request: FastifyRequest, step: (token: string) => Promise<T>): Promise<T> => {
    await throttle.assertAllowed(request.ip);
    try {
      return await step((request.params as { token: string }).token);
    } catch (error) {
      if (error instanceof AppError && error.code === 'enrolment_link_invalid') {
        const verdict = await throttle.failed(request.ip);
        if (verdict.blocked) throw new AppError('rate_limited', { data: { retryAfterSeconds: verdict.retryAfterSeconds } });
      }
      throw error;
    }
  };

  app.get('/api/auth/enrolment/:token', { config: publicRoute, schema: { params: tokenParams, response: { 200: stateSchema } } }, async (request) =>
    withLink(request, (token) => enrolment.describe(token)),
  );

  app.post(
    '/api/auth/enrolment/:token/password',
    {
      config: publicRoute,
      schema: {
        params: tokenParams,
        body: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: { type: 'string', maxLength: 4096 } } },
        response: { 200: stateSchema },
      },
    },
    async (request) =>
      withLink(request, async (token) => {
        const next = await enrolment.setPassword(token, (request.body as { password: string }).password, contextOf(request));
        return next ? { ...next, done: false } : { done: true };
      }),
  );

  app.post('/api/auth/enrolment/:token/totp/start', { config: publicRoute, schema: { params: tokenParams, response: { 200: totpStartSchema } } }, async (request) =>
    withLink(request, (token) => enrolment.startTotp(token)),
  );

  app.post(
    '/api/auth/enrolment/:token/totp/confirm',
    { config: publicRoute, schema: { params: tokenParams, body: codeBody, response: { 200: recoverySchema } } },
    async (request) =>
      withLink(request, async (token) => ({ recoveryCodes: await enrolment.confirmTotp(token, (request.body as { code: string }).code, contextOf(request)) })),
  );

  app.post('/api/auth/mfa/totp/start', { config: signedIn, schema: { response: { 200: totpStartSchema } } }, async (request) =>
    mfa.startTotp(ownUser(request)),
  );

  app.post('/api/auth/mfa/totp/confirm', { config: signedIn, schema: { body: codeBody, response: { 200: recoverySchema } } }, async (request) => {
    const codes = await mfa.confirmTotp(ownUser(request), (request.body as { code: string }).code.trim(), 'session', contextOf(request));
    if (!codes) throw new AppError('invalid_request', { publicMessage: 'The code does not match. Check the time on your device and enter the current code.' });
    return { recoveryCodes: codes };
  });

  app.post('/api/auth/mfa/recovery-codes', { config: signedIn, schema: { body: codeBody, response: { 200: recoverySchema } } }, async (request) => {
    const userId = ownUser(request);
    // A stolen session alone does not get new codes: the current TOTP code is asked for (and used up).
    const check = await mfa.verify(userId, { code: (request.body as { code: string }).code });
    if (!check.ok) throw new AppError('invalid_credentials', { publicMessage: 'The code is wrong or was already used.' });
    return { recoveryCodes: await mfa.regenerateRecoveryCodes(userId, contextOf(request)) };
  });
}

/** MFA of one's own account, from a web session only (a token is not a person at a keyboard). */
function ownUser(request: FastifyRequest): string {
  const principal = request.principal as Principal;
  if (principal.via !== 'session' || principal.kind !== 'user') throw new AppError('forbidden', { publicMessage: 'Manage MFA from a signed-in browser session.' });
  return principal.id;
}
