import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/index.js';
import type { Groups } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { callerOf, idParams, needs, noContent, noQuery, roleList, UUID_PATTERN } from './admin-common.js';

export interface AdminGroupRouteDeps {
  groups: Groups;
}

const group = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const member = {
  type: 'object',
  properties: { groupId: { type: 'string' }, userId: { type: 'string' }, username: { type: 'string' }, source: { type: 'string' }, createdAt: { type: 'string' } },
} as const;

const name = { type: 'string', minLength: 1, maxLength: 100 } as const;
const description = { type: 'string', maxLength: 500 } as const;
const createBody = { type: 'object', additionalProperties: false, required: ['name'], properties: { name, description, roles: roleList } } as const;
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: { name, description, roles: roleList } } as const;
const memberBody = { type: 'object', additionalProperties: false, required: ['userId'], properties: { userId: { type: 'string', pattern: UUID_PATTERN } } } as const;
const memberParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'userId'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN }, userId: { type: 'string', pattern: UUID_PATTERN } },
} as const;

/** /api/admin/groups and /api/admin/groups/:id/members: groups and who is in them (`admin.policy.*`). */
export async function adminGroupRoutes(app: FastifyInstance, deps: AdminGroupRouteDeps): Promise<void> {
  const { groups } = deps;
  const read = needs('admin.policy.read');
  const write = needs('admin.policy.write');

  app.get('/api/admin/groups', { config: read, schema: { querystring: noQuery, response: { 200: { type: 'object', properties: { groups: { type: 'array', items: group } } } } } }, async () => ({
    groups: await groups.list(),
  }));

  app.get<{ Params: { id: string } }>('/api/admin/groups/:id', { config: read, schema: { params: idParams, querystring: noQuery, response: { 200: group } } }, async (request) => {
    const found = await groups.get(request.params.id);
    if (!found) throw notFound('No such group.');
    return found;
  });

  app.post<{ Body: { name: string; description?: string; roles?: Array<'admin' | 'auditor' | 'operator' | 'agent'> } }>(
    '/api/admin/groups',
    { config: write, schema: { body: createBody, response: { 201: group } } },
    async (request, reply) => {
      const created = await groups.create(request.body, callerOf(request), contextOf(request));
      return reply.status(201).send(created);
    },
  );

  app.patch<{ Params: { id: string }; Body: { name?: string; description?: string; roles?: Array<'admin' | 'auditor' | 'operator' | 'agent'> } }>(
    '/api/admin/groups/:id',
    { config: write, schema: { params: idParams, body: patchBody, response: { 200: { type: 'object', properties: { before: group, after: group } } } } },
    async (request) => groups.update(request.params.id, request.body, callerOf(request), contextOf(request)),
  );

  app.delete<{ Params: { id: string } }>('/api/admin/groups/:id', { config: write, schema: { params: idParams, response: noContent } }, async (request, reply) => {
    await groups.delete(request.params.id, callerOf(request), contextOf(request));
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string } }>(
    '/api/admin/groups/:id/members',
    { config: read, schema: { params: idParams, querystring: noQuery, response: { 200: { type: 'object', properties: { members: { type: 'array', items: member } } } } } },
    async (request) => ({ members: await groups.listMembers(request.params.id) }),
  );

  app.post<{ Params: { id: string }; Body: { userId: string } }>(
    '/api/admin/groups/:id/members',
    { config: write, schema: { params: idParams, body: memberBody, response: { 201: member } } },
    async (request, reply) => {
      const added = await groups.addMember(request.params.id, request.body.userId, callerOf(request), contextOf(request));
      return reply.status(201).send(added);
    },
  );

  app.delete<{ Params: { id: string; userId: string } }>(
    '/api/admin/groups/:id/members/:userId',
    { config: write, schema: { params: memberParams, response: noContent } },
    async (request, reply) => {
      await groups.removeMember(request.params.id, request.params.userId, callerOf(request), contextOf(request));
      return reply.status(204).send();
    },
  );
}

function notFound(message: string) {
  return new AppError('not_found', { publicMessage: message });
}
