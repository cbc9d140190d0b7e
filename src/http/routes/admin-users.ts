import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/index.js';
import type { Grants } from '../../access/index.js';
import type { Groups, Role, Users, WebSessions } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { callerOf, idParams, needs, noContent, noQuery, nullableString, roleList } from './admin-common.js';

export interface AdminUserRouteDeps {
  users: Users;
  groups: Groups;
  grants: Pick<Grants, 'deleteForSubject'>;
  sessions: Pick<WebSessions, 'listForUser' | 'revokeAllForUser'>;
}

const user = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    displayName: { type: 'string' },
    email: nullableString,
    kind: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    source: { type: 'string' },
    mfaRequired: { type: 'boolean' },
    mfaEnrolled: { type: 'boolean' },
    disabled: { type: 'boolean' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    lastLoginAt: nullableString,
  },
} as const;

const userWithGroups = {
  type: 'object',
  properties: {
    ...user.properties,
    groups: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, source: { type: 'string' } } } },
  },
} as const;

const link = { type: 'object', properties: { url: { type: 'string' }, expiresAt: { type: 'string' } } } as const;

const session = {
  type: 'object',
  properties: {
    sessionId: { type: 'string' },
    createdAt: { type: 'string' },
    lastSeenAt: { type: 'string' },
    expiresAt: { type: 'string' },
    method: { type: 'string' },
    mfa: { type: 'boolean' },
    sourceIp: nullableString,
  },
} as const;

const editable = {
  displayName: { type: 'string', minLength: 1, maxLength: 200 },
  email: { type: ['string', 'null'], maxLength: 254 },
  roles: roleList,
  mfaRequired: { type: 'boolean' },
} as const;
const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username'],
  properties: { username: { type: 'string', minLength: 1, maxLength: 128 }, kind: { type: 'string', enum: ['person', 'service'] }, ...editable },
} as const;
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: editable } as const;
const reasonBody = { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } } as const;
const listQuery = { type: 'object', additionalProperties: false, properties: { includeDisabled: { type: 'boolean' } } } as const;

interface CreateBody {
  username: string;
  kind?: 'person' | 'service';
  displayName?: string;
  email?: string | null;
  roles?: Role[];
  mfaRequired?: boolean;
}
type PatchBody = Omit<CreateBody, 'username' | 'kind'>;

/**
 * /api/admin/users: accounts (`admin.users.*`) and their sessions
 * (`admin.sessions.*`). Every change goes through Users, which audits it
 * with before/after and never returns a hash, seed or recovery code.
 */
export async function adminUserRoutes(app: FastifyInstance, deps: AdminUserRouteDeps): Promise<void> {
  const { users, groups, sessions } = deps;
  const read = needs('admin.users.read');
  const write = needs('admin.users.write');

  const mustGet = async (id: string) => {
    const found = await users.get(id);
    if (!found) throw new AppError('not_found', { publicMessage: 'No such user.' });
    return found;
  };

  app.get<{ Querystring: { includeDisabled?: boolean } }>(
    '/api/admin/users',
    { config: read, schema: { querystring: listQuery, response: { 200: { type: 'object', properties: { users: { type: 'array', items: user } } } } } },
    async (request) => ({ users: await users.list({ includeDisabled: request.query.includeDisabled ?? true }) }),
  );

  app.get<{ Params: { id: string } }>('/api/admin/users/:id', { config: read, schema: { params: idParams, querystring: noQuery, response: { 200: userWithGroups } } }, async (request) => {
    const found = await mustGet(request.params.id);
    return { ...found, groups: await groups.groupsOfUser(found.id) };
  });

  app.post<{ Body: CreateBody }>(
    '/api/admin/users',
    { config: write, schema: { body: createBody, response: { 201: { type: 'object', properties: { user, enrolment: { anyOf: [link, { type: 'null' }] } } } } } },
    async (request, reply) => {
      const by = callerOf(request);
      const context = contextOf(request);
      const created = await users.create({ ...request.body, source: 'local' }, by, context);
      // A person signs in with a password and TOTP set through a one-time link; a service account uses tokens.
      const enrolment = created.kind === 'person' ? await users.createEnrolmentLink(created.id, 'enrol', by, context) : null;
      return reply.status(201).send({ user: created, enrolment });
    },
  );

  app.patch<{ Params: { id: string }; Body: PatchBody }>(
    '/api/admin/users/:id',
    { config: write, schema: { params: idParams, body: patchBody, response: { 200: { type: 'object', properties: { before: user, after: user } } } } },
    async (request) => users.update(request.params.id, request.body, callerOf(request), contextOf(request)),
  );

  app.delete<{ Params: { id: string } }>('/api/admin/users/:id', { config: write, schema: { params: idParams, response: noContent } }, async (request, reply) => {
    await users.delete(request.params.id, callerOf(request), contextOf(request));
    // Memberships and sessions go with the user (foreign keys); permissions name it without one.
    await deps.grants.deleteForSubject('user', request.params.id, callerOf(request), contextOf(request));
    return reply.status(204).send();
  });

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/api/admin/users/:id/disable',
    { config: write, schema: { params: idParams, body: reasonBody, response: { 200: user } } },
    async (request) => {
      await users.disable(request.params.id, callerOf(request), request.body?.reason ?? 'disabled by an administrator', contextOf(request));
      return mustGet(request.params.id);
    },
  );

  app.post<{ Params: { id: string } }>('/api/admin/users/:id/enable', { config: write, schema: { params: idParams, response: { 200: user } } }, async (request) => {
    await users.enable(request.params.id, callerOf(request), contextOf(request));
    return mustGet(request.params.id);
  });

  app.post<{ Params: { id: string } }>('/api/admin/users/:id/reset-mfa', { config: write, schema: { params: idParams, response: { 200: link } } }, async (request) => {
    const { enrolmentUrl, expiresAt } = await users.resetMfa(request.params.id, callerOf(request), contextOf(request));
    return { url: enrolmentUrl, expiresAt };
  });

  app.get<{ Params: { id: string } }>(
    '/api/admin/users/:id/sessions',
    { config: needs('admin.sessions.read'), schema: { params: idParams, querystring: noQuery, response: { 200: { type: 'object', properties: { sessions: { type: 'array', items: session } } } } } },
    async (request) => {
      await mustGet(request.params.id);
      return { sessions: await sessions.listForUser(request.params.id) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/admin/users/:id/sessions',
    { config: needs('admin.sessions.revoke'), schema: { params: idParams, response: { 200: { type: 'object', properties: { revoked: { type: 'integer' } } } } } },
    async (request) => {
      await mustGet(request.params.id);
      return { revoked: await sessions.revokeAllForUser(request.params.id, callerOf(request), 'revoked by an administrator') };
    },
  );
}

