import type { FastifyInstance } from 'fastify';
import type { AssetRecord } from '../../access/index.js';
import type { BrowserSessions, SessionRecord } from '../../sessions/index.js';
import { contextOf } from '../request-context.js';
import type { RouteAccess } from '../route-access.js';
import { ASSET_ID_PATTERN, callerOf, idParams, noQuery, nullableString } from './admin-common.js';

export interface SessionRouteDeps {
  sessions: BrowserSessions;
  /** The catalog, for what the live view page shows of one session (its portal's name, timeouts, clipboard policy); absent: those fields are null. */
  assets?: { get(id: string): Promise<AssetRecord | null> } | undefined;
}

const authenticated: { access: RouteAccess } = { access: { kind: 'authenticated' } };

const session = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    assetId: { type: 'string' },
    userId: { type: 'string' },
    principalKind: { type: 'string' },
    state: { type: 'string' },
    endReason: nullableString,
    endMessage: nullableString,
    createdAt: { type: 'string' },
    activeAt: nullableString,
    endedAt: nullableString,
    lastInputAt: { type: 'string' },
    nodeId: { type: 'string' },
    credential: nullableString,
  },
} as const;

const nullableNumber = { type: ['number', 'null'] } as const;
const nullablePolicy = { type: ['string', 'null'], enum: ['allow', 'deny', null] } as const;

/**
 * GET /api/sessions/{id} adds what the live view page shows of its session, from its asset's current
 * definition: the portal's name, the idle timeout and the maximum duration (milliseconds), and the
 * clipboard policy. Null when the asset is gone.
 */
const sessionDetail = {
  type: 'object',
  properties: {
    ...session.properties,
    assetName: nullableString,
    idleTimeoutMs: nullableNumber,
    maxDurationMs: nullableNumber,
    clipboardCopy: nullablePolicy,
    clipboardPaste: nullablePolicy,
  },
} as const;

/** The session with its asset's name, timeouts and clipboard policy (additive fields of GET /api/sessions/{id}). */
async function withAssetFacts(record: SessionRecord, assets: SessionRouteDeps['assets']) {
  const asset = assets ? await assets.get(record.assetId) : null;
  const policy = asset?.policy;
  return {
    ...record,
    assetName: asset?.name ?? null,
    idleTimeoutMs: policy ? policy.idleTimeoutMinutes * 60_000 : null,
    maxDurationMs: policy ? policy.maxDurationMinutes * 60_000 : null,
    clipboardCopy: policy?.clipboardCopy ?? null,
    clipboardPaste: policy?.clipboardPaste ?? null,
  };
}

const startBody = {
  type: 'object',
  additionalProperties: false,
  required: ['assetId'],
  properties: { assetId: { type: 'string', pattern: ASSET_ID_PATTERN } },
} as const;
const listQuery = { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } } as const;
const endBody = { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } } as const;

/**
 * /api/sessions: governed browser sessions. Any signed-in caller may ask;
 * the sessions module decides (`connect` on the asset, its limits, whose
 * session it is). Another operator's session is answered 404, as an absent one.
 */
export async function sessionsRoutes(app: FastifyInstance, deps: SessionRouteDeps): Promise<void> {
  const { sessions } = deps;

  app.post<{ Body: { assetId: string } }>('/api/sessions', { config: authenticated, schema: { body: startBody, response: { 201: session } } }, async (request, reply) => {
    const started = await sessions.start(callerOf(request), request.body.assetId, contextOf(request));
    return reply.status(201).send(started);
  });

  app.get<{ Querystring: { all?: boolean } }>(
    '/api/sessions',
    { config: authenticated, schema: { querystring: listQuery, response: { 200: { type: 'object', properties: { sessions: { type: 'array', items: session } } } } } },
    async (request) => ({ sessions: await sessions.list(callerOf(request), { all: request.query.all === true }, contextOf(request)) }),
  );

  app.get<{ Params: { id: string } }>('/api/sessions/:id', { config: authenticated, schema: { params: idParams, querystring: noQuery, response: { 200: sessionDetail } } }, async (request) =>
    withAssetFacts(await sessions.get(request.params.id, callerOf(request), contextOf(request)), deps.assets),
  );

  app.delete<{ Params: { id: string }; Body: { reason?: string } | null | undefined }>(
    '/api/sessions/:id',
    { config: authenticated, schema: { params: idParams, body: endBody, response: { 200: session } } },
    async (request) => sessions.end(request.params.id, callerOf(request), { message: request.body?.reason }, contextOf(request)),
  );
}
