import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_UPLOAD_FILE_BYTES, MAX_UPLOAD_FILES, MAX_UPLOAD_TOTAL_BYTES, type UploadFile } from '../../browser/index.js';
import { AppError } from '../../core/index.js';
import type { BrowserSessions } from '../../sessions/index.js';
import { contextOf } from '../request-context.js';
import type { RouteAccess } from '../route-access.js';
import { callerOf, noQuery, UUID_PATTERN } from './admin-common.js';

export interface SessionTransferRouteDeps {
  sessions: Pick<BrowserSessions, 'fetchDownload' | 'upload' | 'cancelUpload'>;
}

const authenticated: { access: RouteAccess } = { access: { kind: 'authenticated' } };
const uuid = { type: 'string', pattern: UUID_PATTERN } as const;
const downloadParams = { type: 'object', additionalProperties: false, required: ['id', 'downloadId'], properties: { id: uuid, downloadId: uuid } } as const;
const chooserParams = { type: 'object', additionalProperties: false, required: ['id', 'chooserId'], properties: { id: uuid, chooserId: uuid } } as const;
const uploaded = {
  type: 'object',
  properties: { files: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, size: { type: 'number' }, sha256: { type: 'string' } } } } },
} as const;

/**
 * `Content-Disposition: attachment` for a name from a portal (RFC 6266): an ASCII fallback in
 * `filename` (quotes, backslashes, control and non-ASCII characters replaced) and the exact name
 * in `filename*` (RFC 5987, UTF-8, percent-encoded).
 */
export function attachmentHeader(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_') || 'download';
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * Files between a session's owner and its pages (docs/api.md, "Downloads and uploads"): a download
 * the remote browser kept, and files for a page's waiting file chooser. The sessions module decides
 * (the owner only, recorded first); multipart is parsed only here (this plugin's scope).
 */
export async function sessionTransferRoutes(app: FastifyInstance, deps: SessionTransferRouteDeps): Promise<void> {
  const { sessions } = deps;
  await app.register(multipart, {
    limits: { fileSize: MAX_UPLOAD_FILE_BYTES, files: MAX_UPLOAD_FILES, fields: 0, parts: MAX_UPLOAD_FILES, fieldNameSize: 100, headerPairs: 20 },
    throwFileSizeLimit: true,
  });

  app.get<{ Params: { id: string; downloadId: string } }>(
    '/api/sessions/:id/downloads/:downloadId',
    // No HEAD twin: Fastify would run the GET (and record a fetch) to answer it.
    { exposeHeadRoute: false, config: authenticated, schema: { params: downloadParams, querystring: noQuery } },
    async (request, reply) => {
      const file = await sessions.fetchDownload(request.params.id, request.params.downloadId, callerOf(request), contextOf(request));
      reply.raw.once('close', () => file.stream.destroy());
      return reply
        .type('application/octet-stream')
        .header('content-length', String(file.size))
        .header('content-disposition', attachmentHeader(file.fileName))
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-store')
        .header('x-file-sha256', file.sha256)
        .send(file.stream);
    },
  );

  app.post<{ Params: { id: string; chooserId: string } }>(
    '/api/sessions/:id/uploads/:chooserId',
    { config: authenticated, schema: { params: chooserParams, querystring: noQuery, response: { 200: uploaded } } },
    async (request) => ({ files: await sessions.upload(request.params.id, request.params.chooserId, callerOf(request), () => readFiles(request), contextOf(request)) }),
  );

  app.delete<{ Params: { id: string; chooserId: string } }>(
    '/api/sessions/:id/uploads/:chooserId',
    { config: authenticated, schema: { params: chooserParams, querystring: noQuery } },
    async (request, reply) => {
      await sessions.cancelUpload(request.params.id, request.params.chooserId, callerOf(request), contextOf(request));
      return reply.status(204).send();
    },
  );
}

/** The request's files as buffers (its only parts); over a cap: payload_too_large, nothing kept. Paths of the client are never used. */
async function readFiles(request: FastifyRequest): Promise<UploadFile[]> {
  if (!request.isMultipart()) throw new AppError('unsupported_media_type', { publicMessage: 'Send the files as multipart/form-data.' });
  const files: UploadFile[] = [];
  let total = 0;
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') throw new AppError('invalid_request', { publicMessage: 'Send only files.' });
      const buffer = await part.toBuffer();
      total += buffer.length;
      if (total > MAX_UPLOAD_TOTAL_BYTES) throw new AppError('payload_too_large');
      files.push({ name: part.filename, mimeType: part.mimetype, buffer });
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'FST_REQ_FILE_TOO_LARGE' || code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT') throw new AppError('payload_too_large');
    throw new AppError('invalid_request', { publicMessage: 'The multipart body could not be read.', cause: error });
  }
  if (files.length === 0) throw new AppError('invalid_request', { publicMessage: 'Send at least one file.' });
  return files;
}
