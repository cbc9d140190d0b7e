import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_UPLOAD_FILE_BYTES, MAX_UPLOAD_FILES, MAX_UPLOAD_TOTAL_BYTES, type UploadFile } from '../../browser/index.js';
import { AppError } from '../../core/index.js';
import type { BrowserSessions } from '../../sessions/index.js';
import { contextOf } from '../request-context.js';
import type { RouteAccess } from '../route-access.js';
import type { RelayedRequest, SessionRelay } from '../session-relay.js';
import { callerOf, noQuery, UUID_PATTERN } from './admin-common.js';

export interface SessionTransferRouteDeps {
  sessions: Pick<BrowserSessions, 'fetchDownload' | 'upload' | 'cancelUpload'>;
  /** Several nodes: a request about a session another node holds is served there (session-relay.ts); absent: here only. */
  relay?: SessionRelay | undefined;
}

// The answer of a relayed request is the holding node's: a cookie rotated here would be lost there (the old one sent on is dead by then).
const authenticated: { access: RouteAccess; sessionRotation: false } = { access: { kind: 'authenticated' }, sessionRotation: false };
const UUID = new RegExp(UUID_PATTERN);
/** What the holding node needs of the caller's request besides Origin and the signed X-Forwarded-*. */
const PASSED_ON = ['cookie', 'authorization', 'x-csrf-token', 'user-agent', 'content-type'] as const;
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
  const { sessions, relay } = deps;

  /**
   * Route onRequest, after the global guard (the caller is identified, its CSRF token checked) and before the body is read:
   * a session another live node holds is served there, the upload's body streamed on unread (the holding node enforces the caps).
   */
  const relayed =
    (method: RelayedRequest['method'], path: (params: Record<string, string>) => string) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const params = request.params as Record<string, string>;
      // Only well-formed ids and no query: anything else gets its usual answer here.
      if (!relay || request.url.includes('?') || !Object.values(params).every((v) => UUID.test(v))) return undefined;
      const target = await relay.holderOf(request, params.id!);
      if (!target) return undefined;
      await relay.forward(request, reply, target, {
        method,
        path: path(params),
        headers: method === 'POST' ? [...PASSED_ON, 'content-length'] : PASSED_ON,
        body: method === 'POST' ? { stream: request.raw } : undefined,
      });
      return reply;
    };
  const chooserPath = (p: Record<string, string>) => `/api/sessions/${p.id}/uploads/${p.chooserId}`;
  await app.register(multipart, {
    limits: { fileSize: MAX_UPLOAD_FILE_BYTES, files: MAX_UPLOAD_FILES, fields: 0, parts: MAX_UPLOAD_FILES, fieldNameSize: 100, headerPairs: 20 },
    throwFileSizeLimit: true,
  });

  app.get<{ Params: { id: string; downloadId: string } }>(
    '/api/sessions/:id/downloads/:downloadId',
    // No HEAD twin: Fastify would run the GET (and record a fetch) to answer it.
    {
      exposeHeadRoute: false,
      config: authenticated,
      schema: { params: downloadParams, querystring: noQuery },
      onRequest: relayed('GET', (p) => `/api/sessions/${p.id}/downloads/${p.downloadId}`),
    },
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
    { config: authenticated, schema: { params: chooserParams, querystring: noQuery, response: { 200: uploaded } }, onRequest: relayed('POST', chooserPath) },
    async (request) => ({ files: await sessions.upload(request.params.id, request.params.chooserId, callerOf(request), () => readFiles(request), contextOf(request)) }),
  );

  app.delete<{ Params: { id: string; chooserId: string } }>(
    '/api/sessions/:id/uploads/:chooserId',
    { config: authenticated, schema: { params: chooserParams, querystring: noQuery }, onRequest: relayed('DELETE', chooserPath) },
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
