import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createReplayAccess, type Access } from '../../access/index.js';
import type { Actor, AuditTrail } from '../../audit/index.js';
import type { SharedState } from '../../cluster/index.js';
import { AppError, type Clock } from '../../core/index.js';
import type { Principal } from '../../identity/index.js';
import { EXPORT_VIDEO_FORMATS, exportRecording, type ExportVideoFormat, type RecordedFrame, type RecordingExporter, type RecordingListFilter, type Recordings } from '../../recording/index.js';
import { encodeFrameRecord } from '../recordings/frame-stream.js';
import { createReplayAudit } from '../recordings/replay-audit.js';
import { contextOf } from '../request-context.js';
import type { RouteAccess } from '../route-access.js';
import { serveWebFolder } from '../static-files.js';
import { ASSET_ID_PATTERN, callerOf, idParams, needs, noContent, noQuery, nullableString } from './admin-common.js';

export interface RecordingRouteDeps {
  recordings: Recordings;
  access: Access;
  trail: AuditTrail;
  /** Where the throttle of `recording.replayed` keeps its marks (shared by every node). */
  state: SharedState;
  clock?: Clock | undefined;
  /** Video downloads (`GET /api/recordings/:id/export`): the process's one exporter and a folder for its files; absent: no such route. */
  videoExport?: { exporter: RecordingExporter; dir: string } | undefined;
}

const authenticated: { access: RouteAccess } = { access: { kind: 'authenticated' } };
const write = needs('admin.recordings.write');

const summary = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    sessionId: { type: 'string' },
    assetId: { type: 'string' },
    userId: { type: 'string' },
    nodeId: { type: 'string' },
    startedAt: { type: 'string' },
    endedAt: nullableString,
    state: { type: 'string' },
    complete: { type: ['boolean', 'null'] },
    incompleteReason: nullableString,
    chunks: { type: 'integer' },
    bytes: { type: 'integer' },
    frames: { type: 'integer' },
    events: { type: 'integer' },
    durationMs: { type: 'integer' },
    manifestSha256: nullableString,
    retentionDays: { type: 'integer' },
    legalHold: { type: 'boolean' },
  },
} as const;

/** Every field any event type has (recording/types.ts); a field not named here is dropped from the answer, not leaked. */
const event = {
  type: 'object',
  properties: {
    t: { type: 'integer' },
    type: { type: 'string' },
    state: { type: 'string' },
    reason: { type: 'string' },
    tabId: { type: 'string' },
    url: { type: 'string' },
    title: { type: 'string' },
    action: { type: 'string' },
    x: { type: 'number' },
    y: { type: 'number' },
    button: { type: 'string' },
    target: { type: 'string' },
    field: { type: 'string' },
    count: { type: 'integer' },
    text: { type: 'string' },
    direction: { type: 'string' },
    chars: { type: 'integer' },
    fileName: { type: 'string' },
    size: { type: 'integer' },
    sha256: { type: 'string' },
    fileNames: { type: 'array', items: { type: 'string' } },
    what: { type: 'string' },
    tool: { type: 'string' },
    summary: { type: 'string' },
    mode: { type: 'string' },
    userId: { type: 'string' },
  },
} as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    userId: { type: 'string', minLength: 1, maxLength: 128 },
    assetId: { type: 'string', pattern: ASSET_ID_PATTERN },
    from: { type: 'string', maxLength: 40, description: 'ISO 8601 time: recordings still running at or after it' },
    to: { type: 'string', maxLength: 40, description: 'ISO 8601 time: recordings started at or before it' },
    q: { type: 'string', minLength: 1, maxLength: 200, description: 'text in the URLs, titles and event targets' },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
    cursor: { type: 'string', maxLength: 512 },
  },
} as const;

/** Milliseconds since the recording's start; 2^32-1 is the container's limit (49 days). */
const MS = { type: 'integer', minimum: 0, maximum: 4_294_967_295 } as const;
const framesQuery = { type: 'object', additionalProperties: false, properties: { from: MS } } as const;
const frameQuery = { type: 'object', additionalProperties: false, properties: { t: MS } } as const;
const exportQuery = { type: 'object', additionalProperties: false, required: ['format'], properties: { format: { type: 'string', enum: [...EXPORT_VIDEO_FORMATS] } } } as const;
const VIDEO_TYPES: Record<ExportVideoFormat, string> = { webm: 'video/webm', mp4: 'video/mp4' };
const reason = { type: 'string', minLength: 1, maxLength: 500 } as const;
const holdBody = { type: 'object', additionalProperties: false, required: ['hold', 'reason'], properties: { hold: { type: 'boolean' }, reason } } as const;
const deleteBody = { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason } } as const;

interface ListQuery {
  userId?: string;
  assetId?: string;
  from?: string;
  to?: string;
  q?: string;
  limit?: number;
  cursor?: string;
}

/**
 * /api/recordings: find, replay and (administrators) hold or delete session
 * recordings, and the replay page `/recordings/:id/replay`. Who may replay
 * what is decided by the access module (access/replay-access.ts); every
 * replay is audited (`recording.replayed`, throttled per viewer and
 * recording) before anything of the recording is sent.
 */
export async function recordingRoutes(app: FastifyInstance, deps: RecordingRouteDeps): Promise<void> {
  const { recordings } = deps;
  const replay = createReplayAccess({ access: deps.access, find: (id) => recordings.get(id), clock: deps.clock });
  const audit = createReplayAudit({ trail: deps.trail, state: deps.state });
  const page = await serveWebFolder(app, { folder: 'replay', page: 'replay.html', assets: ['replay.js', 'messages.js', 'replay.css'] });

  app.get<{ Querystring: ListQuery }>(
    '/api/recordings',
    {
      config: authenticated,
      schema: { querystring: listQuery, response: { 200: { type: 'object', properties: { recordings: { type: 'array', items: summary }, nextCursor: nullableString } } } },
    },
    async (request) => {
      const scope = await replay.scope(callerOf(request), contextOf(request));
      const { query } = request;
      // A filter on an asset outside the caller's scope finds nothing, exactly like an asset without recordings.
      if (query.assetId !== undefined && !scope.all && !scope.assetIds.includes(query.assetId)) return { recordings: [], nextCursor: null };
      const filter: RecordingListFilter = {
        userId: query.userId,
        assetId: query.assetId,
        from: timeOf('from', query.from),
        to: timeOf('to', query.to),
        text: query.q,
        assetIds: scope.all ? undefined : scope.assetIds,
        limit: query.limit,
        cursor: query.cursor,
      };
      const found = await recordings.list(filter);
      return { recordings: found.items, nextCursor: found.nextCursor };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/recordings/:id',
    {
      config: authenticated,
      schema: { params: idParams, querystring: noQuery, response: { 200: { type: 'object', properties: { recording: summary, events: { type: 'array', items: event } } } } },
    },
    async (request) => {
      const caller = callerOf(request);
      const context = contextOf(request);
      const recording = await replay.recording(caller, request.params.id, context);
      await audit.replayed(caller, recording, 'events', context);
      return { recording, events: await recordings.events(recording.id) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { from?: number } }>(
    '/api/recordings/:id/frames',
    { config: authenticated, schema: { params: idParams, querystring: framesQuery } },
    async (request, reply) => {
      const caller = callerOf(request);
      const context = contextOf(request);
      const recording = await replay.recording(caller, request.params.id, context);
      const from = request.query.from ?? 0;
      await audit.replayed(caller, recording, 'frames', context, { fromMs: from });
      // The first frame is read before the answer starts, so a recording that cannot be read gets an error answer, not a cut stream.
      const frames = recordings.frames(recording.id, from)[Symbol.asyncIterator]();
      const first = await frames.next();
      // A client gone before the stream's first read never runs the generator's `finally`: close the reader here too.
      reply.raw.once('close', () => void closeQuietly(frames));
      return reply.type('application/octet-stream').send(Readable.from(frameRecords(first, frames), { objectMode: false }));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { t?: number } }>(
    '/api/recordings/:id/frame',
    { config: authenticated, schema: { params: idParams, querystring: frameQuery } },
    async (request, reply) => {
      const caller = callerOf(request);
      const context = contextOf(request);
      const recording = await replay.recording(caller, request.params.id, context);
      await audit.replayed(caller, recording, 'frame', context);
      const frame = await firstFrame(recordings.frames(recording.id, request.query.t ?? 0));
      if (!frame) throw new AppError('not_found', { publicMessage: 'The recording has no frame.' });
      return reply
        .type('image/jpeg')
        .header('x-frame-t', String(frame.t))
        .header('x-frame-width', String(frame.width))
        .header('x-frame-height', String(frame.height))
        .send(frame.jpeg);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/recordings/:id/manifest',
    { config: authenticated, schema: { params: idParams, querystring: noQuery } },
    async (request, reply) => {
      const caller = callerOf(request);
      const context = contextOf(request);
      const recording = await replay.recording(caller, request.params.id, context);
      await audit.replayed(caller, recording, 'manifest', context);
      const manifest = await recordings.manifest(recording.id);
      if (!manifest) throw new AppError('not_found', { publicMessage: 'The recording is not sealed yet.' });
      // The stored bytes as they are: their SHA-256 is the one in the audit trail (`recording.sealed`).
      return reply.type('application/json; charset=utf-8').send(manifest);
    },
  );

  const { videoExport } = deps;
  if (videoExport) {
    app.get<{ Params: { id: string }; Querystring: { format: ExportVideoFormat } }>(
      '/api/recordings/:id/export',
      // No HEAD twin: Fastify would transcode (and audit an export) to answer a HEAD.
      { exposeHeadRoute: false, config: authenticated, schema: { params: idParams, querystring: exportQuery } },
      async (request, reply) => {
        const caller = callerOf(request);
        const context = contextOf(request);
        const recording = await replay.recording(caller, request.params.id, context);
        if (recording.state !== 'sealed') throw new AppError('conflict', { publicMessage: 'The recording is still running; export it once its session has ended.' });
        const { format } = request.query;
        // A private folder per download: ffmpeg spools the frames beside the video, and it all goes when the answer is done.
        await mkdir(videoExport.dir, { recursive: true, mode: 0o700 });
        const dir = await mkdtemp(join(videoExport.dir, 'export-'));
        const cleanUp = () => void rm(dir, { recursive: true, force: true }).catch((error: unknown) => request.log.warn({ err: error }, 'a video export folder could not be removed'));
        // A client that goes away stops the export (queued or running); the folder goes either way.
        const abort = new AbortController();
        reply.raw.once('close', () => {
          abort.abort();
          cleanUp();
        });
        const outPath = join(dir, `recording.${format}`);
        // Audited `recording.exported` by exportRecording once the video is made, before a byte of it is sent.
        const result = await exportRecording(
          { recordings, trail: deps.trail, exporter: videoExport.exporter },
          { id: recording.id, format, outPath, actor: actorOf(caller), context, signal: abort.signal },
        );
        return reply
          .type(VIDEO_TYPES[format])
          .header('content-length', String(result.bytes))
          .header('content-disposition', `attachment; filename="recording-${recording.id}.${format}"`)
          .send(createReadStream(outPath));
      },
    );
  }

  app.post<{ Params: { id: string }; Body: { hold: boolean; reason: string } }>(
    '/api/recordings/:id/legal-hold',
    { config: write, schema: { params: idParams, querystring: noQuery, body: holdBody, response: { 200: summary } } },
    async (request) => {
      const caller = callerOf(request);
      const { id } = request.params;
      if (!(await recordings.get(id))) throw new AppError('not_found');
      await recordings.setLegalHold(id, request.body.hold, actorOf(caller), request.body.reason, contextOf(request));
      const after = await recordings.get(id);
      if (!after) throw new AppError('not_found');
      return after;
    },
  );

  app.delete<{ Params: { id: string }; Body: { reason: string } }>(
    '/api/recordings/:id',
    { config: write, schema: { params: idParams, querystring: noQuery, body: deleteBody, response: noContent } },
    async (request, reply) => {
      const caller = callerOf(request);
      const { id } = request.params;
      if (!(await recordings.get(id))) throw new AppError('not_found');
      await recordings.delete(id, actorOf(caller), request.body.reason, contextOf(request));
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string } }>('/recordings/:id/replay', { config: authenticated, schema: { params: idParams, querystring: noQuery } }, async (request, reply) => {
    const caller = callerOf(request);
    const context = contextOf(request);
    const recording = await replay.recording(caller, request.params.id, context);
    await audit.replayed(caller, recording, 'page', context);
    return reply.type('text/html; charset=utf-8').send(page);
  });
}

function actorOf(p: Principal): Actor {
  return { kind: p.kind, id: p.id, name: p.name };
}

function timeOf(field: 'from' | 'to', value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new AppError('invalid_request', { publicMessage: 'The request is invalid; see details.', data: [{ field: `querystring.${field}`, problem: 'must be an ISO 8601 time' }] });
  return ms;
}

async function* frameRecords(first: IteratorResult<RecordedFrame>, rest: AsyncIterator<RecordedFrame>): AsyncGenerator<Buffer> {
  try {
    if (first.done) return;
    yield encodeFrameRecord(first.value);
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield encodeFrameRecord(next.value);
  } finally {
    // The client went away (seek, pause, closed tab): the reader stops and lets go of its chunk.
    await closeQuietly(rest);
  }
}

async function closeQuietly(iterator: AsyncIterator<unknown>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // Closing a reader that already failed: the failure was answered or logged where it happened.
  }
}

async function firstFrame(frames: AsyncIterable<RecordedFrame>): Promise<RecordedFrame | undefined> {
  // Leaving the loop closes the iterator.
  for await (const frame of frames) return frame;
  return undefined;
}
