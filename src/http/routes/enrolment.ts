import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { AuthThrottle, Enrolment, LocalSignIn, Mfa, Principal } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { codeBody, totpStartSchema } from './sign-in.js';

export interface EnrolmentRouteDeps {
  enrolment: Enrolment;
  mfa: Mfa;
  /** Checks the second factor a signed-in user gives again, under the sign-in lockout. */
  signIn: Pick<LocalSignIn, 'confirmSecondFactor'>;
  /** Unknown enrolment tokens and wrong second-factor codes count as failed sign-ins of the client IP. */
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
  const { enrolment, mfa, signIn, throttle } = deps;

  /** Runs a step whose failure with `failureCode` counts toward the client IP's failure limit. */
  const throttled = async <T>(request: FastifyRequest, failureCode: 'enrolment_link_invalid' | 'invalid_credentials', step: () => Promise<T>): Promise<T> => {
    await throttle.assertAllowed(request.ip);
    try {
      return await step();
    } catch (error) {
      if (error instanceof AppError && error.code === failureCode) {
        const verdict = await throttle.failed(request.ip);
        if (verdict.blocked) throw new AppError('rate_limited', { data: { retryAfterSeconds: verdict.retryAfterSeconds } });
      }
      throw error;
    }
  };
  /** Runs a link step; an invalid link counts toward the client IP's failure limit. */
  const withLink = <T>(request: FastifyRequest, step: (token: string) => Promise<T>): Promise<T> =>
    throttled(request, 'enrolment_link_invalid', () => step((request.params as { token: string }).token));

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
    // A stolen session alone does not get new codes: the current TOTP code is asked for (and used up), and guessing it is
    // counted, recorded and locked out like guessing it at sign-in.
    const { code } = request.body as { code: string };
    await throttled(request, 'invalid_credentials', () =>
      signIn.confirmSecondFactor(userId, { code }, 'recovery_codes', { ...contextOf(request), sourceIp: request.ip }),
    );
    return { recoveryCodes: await mfa.regenerateRecoveryCodes(userId, contextOf(request)) };
  });
}

/** MFA of one's own account, from a web session only (a token is not a person at a keyboard). */
function ownUser(request: FastifyRequest): string {
  const principal = request.principal as Principal;
  if (principal.via !== 'session' || principal.kind !== 'user') throw new AppError('forbidden', { publicMessage: 'Manage MFA from a signed-in browser session.' });
  return principal.id;
}
