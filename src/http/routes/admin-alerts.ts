import type { FastifyInstance } from 'fastify';
import type { AuditEventView, AuditService } from '../../audit/index.js';
import { contextOf } from '../request-context.js';
import { callerOf, needs } from './admin-common.js';

export interface AdminAlertRouteDeps {
  service: AuditService;
}

const PAGE = 50;

const query = {
  type: 'object',
  additionalProperties: false,
  properties: { cursor: { type: 'string', maxLength: 512 } },
} as const;

const alert = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    time: { type: 'string' },
    kind: { type: 'string' },
    severity: { type: 'string' },
    summary: { type: 'string' },
    subject: { type: 'object', properties: { kind: { type: 'string' }, id: { type: 'string' } } },
    count: { type: ['integer', 'null'] },
    sourceIp: { type: ['string', 'null'] },
  },
} as const;

/**
 * GET /api/admin/alerts: the alerts raised (`alert.raised` events of the trail), newest first, 50 a
 * page. Read through the audit service, so each read is itself audited (`audit.read`), and with its
 * permission: alerts are part of the trail, which administrators and auditors read.
 */
export async function adminAlertRoutes(app: FastifyInstance, deps: AdminAlertRouteDeps): Promise<void> {
  app.get<{ Querystring: { cursor?: string } }>(
    '/api/admin/alerts',
    { config: needs('audit.read'), schema: { querystring: query, response: { 200: { type: 'object', properties: { alerts: { type: 'array', items: alert }, nextCursor: { type: ['string', 'null'] } } } } } },
    async (request) => {
      const principal = callerOf(request);
      const page = await deps.service.search(
        { kind: principal.kind, id: principal.id, name: principal.name },
        { action: 'alert.raised', order: 'desc', limit: PAGE, cursor: request.query.cursor },
        contextOf(request),
      );
      return { alerts: page.events.filter((e) => e.action === 'alert.raised').map(toAlert), nextCursor: page.nextCursor };
    },
  );
}

function toAlert(event: AuditEventView) {
  const d = event.details;
  const subject = d.subject as { kind?: unknown; id?: unknown } | undefined;
  return {
    id: event.target?.id ?? event.id,
    time: event.time,
    kind: text(d.kind),
    severity: text(d.severity),
    summary: text(d.summary),
    subject: { kind: text(subject?.kind), id: text(subject?.id) },
    count: typeof d.count === 'number' && Number.isSafeInteger(d.count) ? d.count : null,
    sourceIp: event.sourceIp,
  };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
