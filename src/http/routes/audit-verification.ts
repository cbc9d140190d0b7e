import type { FastifyInstance } from 'fastify';
import { createChainVerification, type AuditService, type AuditTrail, type VerificationStatus } from '../../audit/index.js';
import type { Principal } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { noQuery, nullableString } from './admin-common.js';

const actor = { type: 'object', properties: { kind: { type: 'string' }, id: { type: 'string' }, name: nullableString } } as const;
const checkpoint = { type: ['object', 'null'], properties: { seq: { type: 'integer' }, time: { type: 'string' } } } as const;

const statusSchema = {
  type: 'object',
  properties: {
    running: { type: ['object', 'null'], properties: { startedAt: { type: 'string' }, by: actor } },
    last: {
      type: ['object', 'null'],
      properties: {
        ok: { type: 'boolean' },
        checkedAt: { type: 'string' },
        by: actor,
        eventSeq: { type: 'integer' },
        fromSeq: { type: 'integer' },
        throughSeq: { type: ['integer', 'null'] },
        events: { type: 'integer' },
        checkpoints: { type: 'integer' },
        lastCheckpoint: checkpoint,
        failure: { type: ['object', 'null'], properties: { seq: { type: 'integer' }, reason: { type: 'string' } } },
      },
    },
  },
} as const;

const access = { access: { kind: 'permission', permission: 'audit.read' } } as const;

/**
 * GET /api/audit/verification: the last verification of the hash chain (by any
 * node or `webasset audit verify`) and whether one runs on this node now.
 * POST starts one in the background (or joins the one running) and answers
 * 202 at once; the result is recorded `audit.verified`. Both need `audit.read`.
 */
export function auditVerificationRoutes(app: FastifyInstance, deps: { service: AuditService; trail: AuditTrail }): void {
  const verification = createChainVerification({
    service: deps.service,
    reader: deps.service.evidence.reader,
    trail: deps.trail,
    clock: deps.service.evidence.clock,
    onError: (error) => app.log.error({ err: error }, 'a chain verification stopped without a verdict'),
  });
  app.addHook('onClose', () => verification.close());

  app.get('/api/audit/verification', { config: access, schema: { querystring: noQuery, response: { 200: statusSchema } } }, async (request) => {
    const principal = request.principal as Principal;
    return view(await verification.status({ kind: principal.kind, id: principal.id, name: principal.name }, contextOf(request)));
  });

  app.post(
    '/api/audit/verification',
    { config: access, schema: { querystring: noQuery, response: { 202: { ...statusSchema, properties: { ...statusSchema.properties, started: { type: 'boolean' } } } } } },
    async (request, reply) => {
      const principal = request.principal as Principal;
      const who = { kind: principal.kind, id: principal.id, name: principal.name };
      const context = contextOf(request);
      const { started } = verification.start(who, context);
      return reply.status(202).send({ started, ...view(await verification.status(who, context)) });
    },
  );
}

function view(status: VerificationStatus) {
  const { running, last } = status;
  return {
    running: running && { startedAt: new Date(running.startedAtMs).toISOString(), by: running.by },
    last: last && {
      ...last,
      checkedAt: new Date(last.checkedAtMs).toISOString(),
      lastCheckpoint: last.lastCheckpoint && { seq: last.lastCheckpoint.seq, time: new Date(last.lastCheckpoint.timeMs).toISOString() },
    },
  };
}
