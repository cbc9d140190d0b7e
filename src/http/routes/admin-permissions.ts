import type { FastifyInstance } from 'fastify';
import type { GrantInput, GrantPatch, Grants } from '../../access/index.js';
import { AppError } from '../../core/index.js';
import { contextOf } from '../request-context.js';
import { ASSET_ID_PATTERN, callerOf, idParams, needs, noContent, noQuery, stringArray, timeWindowJson, UUID_PATTERN } from './admin-common.js';

export interface AdminPermissionRouteDeps {
  grants: Grants;
}

const permission = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    subjectKind: { type: 'string' },
    subjectId: { type: 'string' },
    assetId: { type: 'string' },
    actions: stringArray,
    timeWindow: {
      type: ['object', 'null'],
      properties: { timeZone: { type: 'string' }, days: { type: 'array', items: { type: 'integer' } }, start: { type: 'string' }, end: { type: 'string' } },
    },
    maxConcurrent: { type: ['integer', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const actions = { type: 'array', minItems: 1, maxItems: 3, uniqueItems: true, items: { type: 'string', enum: ['connect', 'watch', 'replay'] } } as const;
const maxConcurrent = { type: ['integer', 'null'], minimum: 1, maximum: 1000 } as const;
const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['subjectKind', 'subjectId', 'assetId', 'actions'],
  properties: {
    subjectKind: { type: 'string', enum: ['user', 'group'] },
    subjectId: { type: 'string', pattern: UUID_PATTERN },
    assetId: { type: 'string', pattern: ASSET_ID_PATTERN },
    actions,
    timeWindow: timeWindowJson,
    maxConcurrent,
  },
} as const;
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: { actions, timeWindow: timeWindowJson, maxConcurrent } } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    assetId: { type: 'string', pattern: ASSET_ID_PATTERN },
    subjectKind: { type: 'string', enum: ['user', 'group'] },
    subjectId: { type: 'string', pattern: UUID_PATTERN },
  },
} as const;

/** /api/admin/permissions: who may connect to, watch or replay which asset, when (`admin.policy.*`). */
export async function adminPermissionRoutes(app: FastifyInstance, deps: AdminPermissionRouteDeps): Promise<void> {
  const { grants } = deps;
  const read = needs('admin.policy.read');
  const write = needs('admin.policy.write');

  app.get<{ Querystring: { assetId?: string; subjectKind?: 'user' | 'group'; subjectId?: string } }>(
    '/api/admin/permissions',
    { config: read, schema: { querystring: listQuery, response: { 200: { type: 'object', properties: { permissions: { type: 'array', items: permission } } } } } },
    async (request) => ({ permissions: await grants.list(request.query) }),
  );

  app.get<{ Params: { id: string } }>('/api/admin/permissions/:id', { config: read, schema: { params: idParams, querystring: noQuery, response: { 200: permission } } }, async (request) => {
    const found = await grants.get(request.params.id);
    if (!found) throw new AppError('not_found', { publicMessage: 'No such permission.' });
    return found;
  });

  app.post<{ Body: GrantInput }>('/api/admin/permissions', { config: write, schema: { body: createBody, response: { 201: permission } } }, async (request, reply) => {
    const created = await grants.create(request.body, callerOf(request), contextOf(request));
    return reply.status(201).send(created);
  });

  app.patch<{ Params: { id: string }; Body: GrantPatch }>(
    '/api/admin/permissions/:id',
    { config: write, schema: { params: idParams, body: patchBody, response: { 200: { type: 'object', properties: { before: permission, after: permission } } } } },
    async (request) => grants.update(request.params.id, request.body, callerOf(request), contextOf(request)),
  );

  app.delete<{ Params: { id: string } }>('/api/admin/permissions/:id', { config: write, schema: { params: idParams, response: noContent } }, async (request, reply) => {
    await grants.delete(request.params.id, callerOf(request), contextOf(request));
    return reply.status(204).send();
  });
}
