import type { FastifyInstance } from 'fastify';
import { MAX_AGE_DAYS_LIMIT, MAX_FIELDS, MAX_VALUE_BYTES, type Vault } from '../../vault/index.js';
import { AppError } from '../../core/index.js';
import { contextOf } from '../request-context.js';
import { assetIdParams, callerOf, needs, noContent, noQuery, stringArray } from './admin-common.js';

export interface AdminVaultRouteDeps {
  vault: Vault;
}

const setBy = { type: 'object', properties: { kind: { type: 'string' }, id: { type: 'string' }, name: { type: ['string', 'null'] } } } as const;

/** Metadata only: the response schemas drop anything else, so no value can leave by a later mistake either. */
const entry = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    version: { type: 'integer' },
    fields: stringArray,
    setBy,
    setAt: { type: 'string' },
    ageDays: { type: 'integer' },
    maxAgeDays: { type: 'integer' },
    stale: { type: 'boolean' },
  },
} as const;

const version = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    fields: stringArray,
    setBy,
    setAt: { type: 'string' },
    supersededAt: { type: ['string', 'null'] },
    current: { type: 'boolean' },
  },
} as const;

const putBody = {
  type: 'object',
  additionalProperties: false,
  required: ['fields'],
  properties: {
    fields: {
      type: 'object',
      minProperties: 1,
      maxProperties: MAX_FIELDS,
      propertyNames: { pattern: '^[a-zA-Z][a-zA-Z0-9_-]{0,63}$' },
      // Characters, not bytes: the vault checks the byte length again.
      additionalProperties: { type: 'string', minLength: 1, maxLength: MAX_VALUE_BYTES },
    },
    maxAgeDays: { type: ['integer', 'null'], minimum: 1, maximum: MAX_AGE_DAYS_LIMIT },
    merge: { type: 'boolean' },
  },
} as const;

const listQuery = { type: 'object', additionalProperties: false, properties: { stale: { type: 'boolean' } } } as const;

/** Where an entry's values live in Infisical (names only). */
const reference = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    provider: { type: 'string' },
    projectId: { type: 'string' },
    environment: { type: 'string' },
    secretPath: { type: 'string' },
    keys: { type: 'object', additionalProperties: { type: 'string' } },
    setBy,
    setAt: { type: 'string' },
  },
} as const;

const referenceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'projectId', 'environment', 'keys'],
  properties: {
    provider: { type: 'string', enum: ['infisical'] },
    projectId: { type: 'string', minLength: 1, maxLength: 256 },
    environment: { type: 'string', minLength: 1, maxLength: 256 },
    secretPath: { type: 'string', minLength: 1, maxLength: 256, default: '/' },
    keys: {
      type: 'object',
      minProperties: 1,
      maxProperties: MAX_FIELDS,
      propertyNames: { pattern: '^[a-zA-Z][a-zA-Z0-9_-]{0,63}$' },
      additionalProperties: { type: 'string', minLength: 1, maxLength: 256 },
    },
  },
} as const;

interface ReferenceBody {
  provider: 'infisical';
  projectId: string;
  environment: string;
  secretPath: string;
  keys: Record<string, string>;
}

interface PutBody {
  fields: Record<string, string>;
  maxAgeDays?: number | null;
  merge?: boolean;
}

/**
 * /api/admin/vault: write-only administration of portal credentials
 * (`admin.vault.*`). Values go in; only metadata comes out (fields present,
 * version, who set it and when, age).
 */
export async function adminVaultRoutes(app: FastifyInstance, deps: AdminVaultRouteDeps): Promise<void> {
  const { vault } = deps;
  const read = needs('admin.vault.read');
  const write = needs('admin.vault.write');

  app.get<{ Querystring: { stale?: boolean } }>(
    '/api/admin/vault',
    { config: read, schema: { querystring: listQuery, response: { 200: { type: 'object', properties: { entries: { type: 'array', items: entry } } } } } },
    async (request) => ({ entries: request.query.stale ? await vault.stale() : await vault.list() }),
  );

  app.get<{ Params: { id: string } }>('/api/admin/vault/:id', { config: read, schema: { params: assetIdParams, querystring: noQuery, response: { 200: entry } } }, async (request) => {
    const found = await vault.get(request.params.id);
    if (!found) throw new AppError('not_found', { publicMessage: 'No such vault entry.' });
    return found;
  });

  app.get<{ Params: { id: string } }>(
    '/api/admin/vault/:id/history',
    { config: read, schema: { params: assetIdParams, querystring: noQuery, response: { 200: { type: 'object', properties: { id: { type: 'string' }, versions: { type: 'array', items: version } } } } } },
    async (request) => ({ id: request.params.id, versions: await vault.history(request.params.id) }),
  );

  app.put<{ Params: { id: string }; Body: PutBody }>(
    '/api/admin/vault/:id',
    { config: write, schema: { params: assetIdParams, body: putBody, response: { 200: entry } } },
    async (request) => {
      const { fields, maxAgeDays, merge } = request.body;
      // The parsed body's strings cannot be wiped; the Buffers the vault holds are.
      const values = new Map(Object.entries(fields).map(([name, value]) => [name, Buffer.from(value, 'utf8')]));
      const caller = callerOf(request);
      return vault.set({ entryId: request.params.id, values, merge, maxAgeDays }, { kind: caller.kind, id: caller.id, name: caller.name }, contextOf(request));
    },
  );

  app.get<{ Params: { id: string } }>('/api/admin/vault/:id/reference', { config: read, schema: { params: assetIdParams, querystring: noQuery, response: { 200: reference } } }, async (request) => {
    const found = await vault.getReference(request.params.id);
    if (!found) throw new AppError('not_found', { publicMessage: 'This vault entry has no external reference.' });
    return found;
  });

  app.put<{ Params: { id: string }; Body: ReferenceBody }>(
    '/api/admin/vault/:id/reference',
    { config: write, schema: { params: assetIdParams, body: referenceBody, response: { 200: reference } } },
    async (request) => {
      const caller = callerOf(request);
      return vault.setReference(request.params.id, request.body, { kind: caller.kind, id: caller.id, name: caller.name }, contextOf(request));
    },
  );

  app.delete<{ Params: { id: string } }>('/api/admin/vault/:id/reference', { config: write, schema: { params: assetIdParams, response: noContent } }, async (request, reply) => {
    const caller = callerOf(request);
    await vault.deleteReference(request.params.id, { kind: caller.kind, id: caller.id, name: caller.name }, contextOf(request));
    return reply.status(204).send();
  });

  app.delete<{ Params: { id: string } }>('/api/admin/vault/:id', { config: write, schema: { params: assetIdParams, response: noContent } }, async (request, reply) => {
    const caller = callerOf(request);
    await vault.delete(request.params.id, { kind: caller.kind, id: caller.id, name: caller.name }, contextOf(request));
    return reply.status(204).send();
  });
}
