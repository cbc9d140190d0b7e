import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import { MAX_EXPIRY_DAYS, TOKEN_SCOPE_NAMES, type ApiTokens } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import type { RouteAccess } from '../route-access.js';

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const read: { access: RouteAccess } = { access: { kind: 'permission', permission: 'admin.tokens.read' } };
const write: { access: RouteAccess } = { access: { kind: 'permission', permission: 'admin.tokens.write' } };

const account = { type: ['object', 'null'], properties: { id: { type: 'string' }, username: { type: 'string' } } } as const;
const nullableString = { type: ['string', 'null'] } as const;
/** Metadata only: the response schema is the allowlist, so neither the token nor its hash can slip into a list. */
const tokenInfo = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    serviceAccount: account,
    onBehalfOf: account,
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    expiresAt: nullableString,
    lastUsedAt: nullableString,
    revoked: { type: 'boolean' },
    revokedAt: nullableString,
  },
} as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', pattern: UUID_PATTERN } } } as const;
const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'serviceAccountId', 'scopes'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    serviceAccountId: { type: 'string', pattern: UUID_PATTERN },
    scopes: { type: 'array', minItems: 1, maxItems: TOKEN_SCOPE_NAMES.length, uniqueItems: true, items: { type: 'string', enum: TOKEN_SCOPE_NAMES } },
    expiresInDays: { type: 'integer', minimum: 1, maximum: MAX_EXPIRY_DAYS },
    onBehalfOfId: { type: 'string', pattern: UUID_PATTERN },
  },
} as const;

interface CreateBody {
  name: string;
  serviceAccountId: string;
  scopes: string[];
  expiresInDays?: number;
  onBehalfOfId?: string;
}

function callerOf(request: FastifyRequest) {
  if (!request.principal) throw new AppError('unauthenticated');
  return request.principal;
}

/**
 * /api/admin/tokens: agent tokens of service accounts. The token value is in
 * the answer to its creation and nowhere else; lists show metadata only.
 */
export async function adminTokenRoutes(app: FastifyInstance, deps: { tokens: ApiTokens }): Promise<void> {
  const { tokens } = deps;

  app.post<{ Body: CreateBody }>(
    '/api/admin/tokens',
    {
      config: write,
      schema: { body: createBody, querystring: noQuery, response: { 201: { type: 'object', properties: { token: { type: 'string' }, info: tokenInfo } } } },
    },
    async (request, reply) => {
      const { name, serviceAccountId, scopes, expiresInDays, onBehalfOfId } = request.body;
      const created = await tokens.create({ name, serviceAccountId, scopes, expiresInDays, onBehalfOfId, createdBy: callerOf(request), context: contextOf(request) });
      return reply.status(201).send({ token: created.token, info: created.info });
    },
  );

  app.get(
    '/api/admin/tokens',
    { config: read, schema: { querystring: noQuery, response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenInfo } } } } } },
    async () => ({ tokens: await tokens.list() }),
  );

  app.get<{ Params: { id: string } }>('/api/admin/tokens/:id', { config: read, schema: { params: idParams, querystring: noQuery, response: { 200: tokenInfo } } }, async (request) => {
    const found = await tokens.get(request.params.id);
    if (!found) throw new AppError('not_found', { publicMessage: 'No such token.' });
    return found;
  });

  app.delete<{ Params: { id: string } }>(
    '/api/admin/tokens/:id',
    { config: write, schema: { params: idParams, querystring: noQuery, response: { 204: { type: 'null' } } } },
    async (request, reply) => {
      await tokens.revoke(request.params.id, callerOf(request), contextOf(request));
      return reply.status(204).send();
    },
  );
}
