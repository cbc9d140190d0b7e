import type { FastifyInstance } from 'fastify';
import { type AuditService, type AuditTrail, type SearchParams } from '../../audit/index.js';
import type { Principal } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { AUDIT_FILTERS } from './audit-filters.js';
import { auditExportRoute } from './audit-export.js';
import { auditVerificationRoutes } from './audit-verification.js';

export interface AuditRouteDeps {
  service: AuditService;
  /** Where reading the verification status is recorded (GET /api/audit/verification); absent: those routes are not added. */
  trail?: AuditTrail | undefined;
}

const nullableString = { type: ['string', 'null'] } as const;

const eventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    id: { type: 'string' },
    time: { type: 'string' },
    actor: { type: 'object', properties: { kind: { type: 'string' }, id: { type: 'string' }, name: nullableString } },
    action: { type: 'string' },
    target: { type: ['object', 'null'], properties: { kind: { type: 'string' }, id: { type: 'string' } } },
    outcome: { type: 'string' },
    sourceIp: nullableString,
    userAgent: nullableString,
    requestId: nullableString,
    nodeId: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const;

const querystring = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...AUDIT_FILTERS,
    cursor: { type: 'string', maxLength: 512 },
    limit: { type: 'integer', minimum: 1 },
    order: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const;

/**
 * GET /api/audit: search the trail. Needs `audit.read` (route access); every call is itself audited.
 * Also the export download (audit-export.ts) and the chain verification status (audit-verification.ts).
 */
export async function auditRoutes(app: FastifyInstance, deps: AuditRouteDeps): Promise<void> {
  app.get(
    '/api/audit',
    {
      schema: {
        querystring,
        response: { 200: { type: 'object', properties: { events: { type: 'array', items: eventSchema }, nextCursor: nullableString } } },
      },
      // Checked before validation (route-access.ts), so an anonymous caller learns nothing about the query rules.
      config: { access: { kind: 'permission', permission: 'audit.read' } },
    },
    async (request) => {
      const principal = request.principal as Principal;
      const context = contextOf(request);
      return deps.service.search({ kind: principal.kind, id: principal.id, name: principal.name }, request.query as SearchParams, context);
    },
  );
  auditExportRoute(app, deps);
  if (deps.trail) auditVerificationRoutes(app, { service: deps.service, trail: deps.trail });
}
