import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { EXPORT_FORMATS, type AuditFilterParams, type AuditService, type ExportFormat } from '../../audit/index.js';
import type { Principal } from '../../identity/index.js';
import { contextOf } from '../request-context.js';
import { AUDIT_FILTERS } from './audit-filters.js';

const CONTENT_TYPES: Record<ExportFormat, string> = { ndjson: 'application/x-ndjson; charset=utf-8', csv: 'text/csv; charset=utf-8' };

/** The filters of GET /api/audit, without paging: an export runs from the first match to a signed checkpoint. */
const querystring = {
  type: 'object',
  additionalProperties: false,
  required: ['format'],
  properties: {
    format: { type: 'string', enum: [...EXPORT_FORMATS] },
    ...AUDIT_FILTERS,
  },
} as const;

type ExportQuery = AuditFilterParams & { format: ExportFormat };

/**
 * GET /api/audit/export: the download of `webasset audit export`, byte for
 * byte the same format (an unfiltered NDJSON export verifies offline with
 * `webasset audit verify --file`). Needs `audit.export`; recorded
 * `audit.exported` (format and filters) before the first byte. Streamed from
 * the reader a page at a time, so a long trail never sits in memory.
 */
export function auditExportRoute(app: FastifyInstance, deps: { service: AuditService }): void {
  app.get<{ Querystring: ExportQuery }>(
    '/api/audit/export',
    // No HEAD twin: Fastify would run the export (and audit it) to answer a HEAD.
    { exposeHeadRoute: false, schema: { querystring }, config: { access: { kind: 'permission', permission: 'audit.export' } } },
    async (request, reply) => {
      const principal = request.principal as Principal;
      const { format, ...filters } = request.query;
      // Filters are checked (400 invalid_request) and the export recorded before anything is sent.
      const lines = await deps.service.export({ kind: principal.kind, id: principal.id, name: principal.name }, format, filters, contextOf(request));
      const body = Readable.from(lines, { objectMode: false });
      // A client that goes away stops the reader (the generator's pages end with it).
      reply.raw.once('close', () => body.destroy());
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      return reply
        .type(CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="audit-export-${stamp}.${format}"`)
        .send(body);
    },
  );
}
