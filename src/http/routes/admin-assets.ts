import type { FastifyInstance } from 'fastify';
import type { AssetInput, AssetPatch, Assets } from '../../access/index.js';
import { AppError } from '../../core/index.js';
import { contextOf } from '../request-context.js';
import { ASSET_ID_PATTERN, assetIdParams, callerOf, needs, noContent, noQuery, nullableString, stringArray } from './admin-common.js';

export interface AdminAssetRouteDeps {
  assets: Assets;
}

/** Recipes and checks are validated in depth by access (zod); here they pass through as the objects stored. */
const freeObject = { type: ['object', 'null'], additionalProperties: true } as const;
const policy = {
  type: 'object',
  properties: {
    idleTimeoutMinutes: { type: 'integer' },
    maxDurationMinutes: { type: 'integer' },
    downloads: { type: 'string' },
    uploads: { type: 'string' },
    clipboardCopy: { type: 'string' },
    clipboardPaste: { type: 'string' },
    maxSessions: { type: ['integer', 'null'] },
    maxSessionsPerCredential: { type: 'integer' },
    recording: { type: 'string' },
    recordKeystrokes: { type: 'string' },
    recordingRetentionDays: { type: 'integer' },
  },
} as const;

const asset = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    url: { type: 'string' },
    allowedHosts: stringArray,
    mfaRequired: { type: 'boolean' },
    startUrl: { type: 'string' },
    credential: nullableString,
    loginRecipe: freeObject,
    successCheck: freeObject,
    failureCheck: freeObject,
    allowInsecureHttp: { type: 'boolean' },
    policy,
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const fields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  url: { type: 'string', minLength: 1, maxLength: 2048 },
  allowedHosts: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 253 } },
  mfaRequired: { type: 'boolean' },
  startUrl: { type: ['string', 'null'], maxLength: 2048 },
  credential: { type: ['string', 'null'], maxLength: 64 },
  loginRecipe: { type: ['object', 'null'] },
  successCheck: { type: ['object', 'null'] },
  failureCheck: { type: ['object', 'null'] },
  allowInsecureHttp: { type: 'boolean' },
  policy: { type: 'object' },
} as const;
const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'url'],
  properties: { id: { type: 'string', pattern: ASSET_ID_PATTERN }, ...fields },
} as const;
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: fields } as const;

/** /api/admin/assets: the catalog of portals (`admin.policy.*`). */
export async function adminAssetRoutes(app: FastifyInstance, deps: AdminAssetRouteDeps): Promise<void> {
  const { assets } = deps;
  const read = needs('admin.policy.read');
  const write = needs('admin.policy.write');

  app.get('/api/admin/assets', { config: read, schema: { querystring: noQuery, response: { 200: { type: 'object', properties: { assets: { type: 'array', items: asset } } } } } }, async () => ({
    assets: await assets.list(),
  }));

  app.get<{ Params: { id: string } }>('/api/admin/assets/:id', { config: read, schema: { params: assetIdParams, querystring: noQuery, response: { 200: asset } } }, async (request) => {
    const found = await assets.get(request.params.id);
    if (!found) throw new AppError('not_found', { publicMessage: 'No such asset.' });
    return found;
  });

  app.post<{ Body: AssetInput }>('/api/admin/assets', { config: write, schema: { body: createBody, response: { 201: asset } } }, async (request, reply) => {
    const created = await assets.create(request.body, callerOf(request), contextOf(request));
    return reply.status(201).send(created);
  });

  app.patch<{ Params: { id: string }; Body: AssetPatch }>(
    '/api/admin/assets/:id',
    { config: write, schema: { params: assetIdParams, body: patchBody, response: { 200: { type: 'object', properties: { before: asset, after: asset } } } } },
    async (request) => assets.update(request.params.id, request.body, callerOf(request), contextOf(request)),
  );

  app.delete<{ Params: { id: string } }>('/api/admin/assets/:id', { config: write, schema: { params: assetIdParams, response: noContent } }, async (request, reply) => {
    await assets.delete(request.params.id, callerOf(request), contextOf(request));
    return reply.status(204).send();
  });
}
