import type { FastifyInstance } from 'fastify';

export interface AuthOptionsRouteDeps {
  /** Local accounts are served (sign-in routes exist). */
  localAccounts: boolean;
  /** Single sign-on is configured (OIDC_ISSUER). */
  sso: boolean;
  /** WEBASSET_LOCKOUT_THRESHOLD failures lock an account for WEBASSET_LOCKOUT_MINUTES; null without local accounts. */
  lockout: { threshold: number; minutes: number } | null;
}

const optionsSchema = {
  type: 'object',
  properties: {
    localAccounts: { type: 'boolean' },
    sso: { type: 'boolean' },
    lockout: { type: ['object', 'null'], properties: { threshold: { type: 'integer' }, minutes: { type: 'integer' } } },
  },
} as const;

/**
 * `GET /api/auth/options`: how one signs in here, for the sign-in page: the local form, the SSO
 * button, and the lockout policy it states after a refused password (a refusal never says whether
 * the account is locked: that would tell which accounts exist). Public, and the same for everyone.
 */
export async function authOptionsRoutes(app: FastifyInstance, deps: AuthOptionsRouteDeps): Promise<void> {
  const answer = { localAccounts: deps.localAccounts, sso: deps.sso, lockout: deps.localAccounts ? deps.lockout : null };
  app.get(
    '/api/auth/options',
    { config: { access: { kind: 'public' } }, schema: { querystring: { type: 'object', additionalProperties: false, properties: {} }, response: { 200: optionsSchema } } },
    async () => answer,
  );
}
