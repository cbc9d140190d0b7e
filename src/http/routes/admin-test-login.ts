import type { FastifyInstance } from 'fastify';
import type { TrialInput, TrialLogin } from '../../sessions/index.js';
import { contextOf } from '../request-context.js';
import { assetIdParams, callerOf, needs } from './admin-common.js';

export interface AdminTestLoginRouteDeps {
  trialLogin: TrialLogin;
}

/** The unsaved recipe and checks pass through as objects; the sessions module validates them as the asset PATCH does. */
const body = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    loginRecipe: { type: ['object', 'null'] },
    successCheck: { type: ['object', 'null'] },
    failureCheck: { type: ['object', 'null'] },
  },
} as const;

const result = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    durationMs: { type: 'integer' },
    failedStep: { type: 'object', properties: { index: { type: 'integer' }, kind: { type: 'string' }, label: { type: 'string' } } },
    message: { type: 'string' },
  },
} as const;

/** POST /api/admin/assets/:id/test-login: "Test login now" of the console (`admin.policy.write`). */
export async function adminTestLoginRoutes(app: FastifyInstance, deps: AdminTestLoginRouteDeps): Promise<void> {
  app.post<{ Params: { id: string }; Body: TrialInput | null }>(
    '/api/admin/assets/:id/test-login',
    { config: needs('admin.policy.write'), schema: { params: assetIdParams, body, response: { 200: result } } },
    async (request) => deps.trialLogin.run(callerOf(request), request.params.id, request.body ?? {}, contextOf(request)),
  );
}
