import type { Actor } from '../audit/index.js';
import { AppError } from '../core/index.js';
import { bundleFiles, bundlePublicKeyId } from './bundle-files.js';
import { auditWith, type RecordingContext } from './context.js';
import { createRecorder } from './recorder.js';
import { isRecordingId } from './recording-id.js';
import { createRecordingStore, toSummary, type RecordingRecord } from './recording-store.js';
import { recoverRecordings } from './recover.js';
import { readEvents, readFrames } from './replay.js';
import type { BeginInfo, Recordings, RecordingsDeps, RecordedFrame } from './types.js';
import { verifyFiles } from './verify.js';
import { createWriteLane } from './write-lane.js';

const DEFAULT_FLUSH_MS = 2_000;
const DEFAULT_MAX_CHUNK = 1024 * 1024;
const HOUR_MS = 3_600_000;
const REASON_MAX = 500;
const SWEEP_BATCH = 100;
const NO_CONTROL = /\p{Cc}/gu;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Session recordings: the recorder a session writes to, the list and replay
 * auditors read, verification, and retention. Every change is audited.
 */
export function createRecordings(deps: RecordingsDeps): Recordings {
  for (const key of ['db', 'storage', 'trail', 'signer', 'verifier', 'clock', 'ids', 'logger'] as const) {
    if (!deps[key]) throw new TypeError(`createRecordings: ${key} is required`);
  }
  if (typeof deps.nodeId !== 'string' || deps.nodeId === '') throw new TypeError('createRecordings: nodeId is required');
  const flushIntervalMs = deps.flushIntervalMs ?? DEFAULT_FLUSH_MS;
  const maxChunkBytes = deps.maxChunkBytes ?? DEFAULT_MAX_CHUNK;
  if (!Number.isInteger(flushIntervalMs) || flushIntervalMs < 10) throw new TypeError('createRecordings: flushIntervalMs must be an integer ≥ 10');
  if (!Number.isInteger(maxChunkBytes) || maxChunkBytes < 1024) throw new TypeError('createRecordings: maxChunkBytes must be an integer ≥ 1024');

  const ctx: RecordingContext = {
    store: createRecordingStore(deps.db),
    lane: createWriteLane(),
    storage: deps.storage,
    trail: deps.trail,
    signer: deps.signer,
    verifier: deps.verifier,
    clock: deps.clock,
    ids: deps.ids,
    nodeId: deps.nodeId,
    logger: deps.logger,
    flushIntervalMs,
    maxChunkBytes,
    system: { kind: 'system', id: deps.nodeId, name: 'webasset' },
    audit: auditWith(deps.trail),
  };
  const { store } = ctx;

  /** The row of a recording that exists and is not deleted; `not_found` for anything else, a malformed id included. */
  async function existing(id: string): Promise<RecordingRecord> {
    const row = await visibleRow(id);
    if (!row) throw new AppError('not_found', { publicMessage: 'No such recording.' });
    return row;
  }

  async function visibleRow(id: string): Promise<RecordingRecord | null> {
    const row = isRecordingId(id) ? await store.get(id.toLowerCase()) : null;
    return row && row.state !== 'deleted' ? row : null;
  }

  async function remove(row: RecordingRecord, by: string, reason: string): Promise<void> {
    await store.markDeleted(row.id, ctx.clock.now(), by, reason);
    try {
      await ctx.storage.remove(row.id);
    } catch (error) {
      // The row says deleted (what the trail says); the files are left for an operator to remove.
      ctx.logger.error({ err: error, recordingId: row.id }, 'recording: deleted, but its files could not be removed');
    }
  }

  const recordings: Recordings = {
    async begin(info) {
      checkBegin(info);
      if (await store.bySession(info.sessionId)) throw new AppError('conflict', { publicMessage: 'This session already has a recording.' });
      const id = ctx.ids.uuid();
      if (!isRecordingId(id)) throw new TypeError('createRecordings: ids.uuid() must give UUID v4 ids');
      try {
        await ctx.storage.create(id);
      } catch (error) {
        ctx.logger.error({ err: error, recordingId: id, session: info.sessionId }, 'recording: storage cannot be written; the recording cannot start');
        await ctx
          .audit('recording.failed', 'failure', id, ctx.system, { session: info.sessionId, assetId: info.assetId, seq: 0, reason: 'storage_error' })
          .catch((auditError: unknown) => ctx.logger.error({ err: auditError }, 'recording: recording.failed could not be audited'));
        throw new AppError('recording_unavailable', { detail: 'storage cannot be written', cause: error });
      }
      await ctx.audit('recording.started', 'success', id, ctx.system, {
        session: info.sessionId,
        assetId: info.assetId,
        userId: info.userId,
        retentionDays: info.retentionDays,
      });
      const startedAtMs = ctx.clock.now();
      await store.insert({ id, sessionId: info.sessionId, assetId: info.assetId, userId: info.userId, nodeId: ctx.nodeId, startedAtMs, retentionDays: info.retentionDays });
      const row = await store.get(id);
      if (!row) throw new AppError('internal', { detail: 'recording row vanished after insert' });
      return createRecorder(ctx, row);
    },

    recover: () => recoverRecordings(ctx),

    async list(filter) {
      const { rows, nextCursor } = await store.list(checkFilter(filter));
      return { items: rows.map(toSummary), nextCursor };
    },

    async get(id) {
      const row = await visibleRow(id);
      return row ? toSummary(row) : null;
    },

    async events(id) {
      const row = await existing(id);
      return readEvents(ctx, row.id, await store.chunks(row.id));
    },

    frames(id, fromMs) {
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<RecordedFrame> {
          if (typeof fromMs !== 'number' || !Number.isFinite(fromMs) || fromMs < 0) throw new AppError('invalid_request', { publicMessage: 'from must be a number of milliseconds ≥ 0.' });
          const row = await existing(id);
          yield* readFrames(ctx, row.id, await store.chunks(row.id), fromMs);
        },
      };
    },

    async manifest(id) {
      const row = await visibleRow(id);
      return row && row.state === 'sealed' ? ctx.storage.readManifest(row.id) : null;
    },

    async chunk(id, seq) {
      if (!Number.isInteger(seq) || seq < 1) return null;
      const row = await visibleRow(id);
      return row ? ctx.storage.readChunk(row.id, seq) : null;
    },

    async verify(id) {
      const row = await existing(id);
      const files = {
        readManifest: () => ctx.storage.readManifest(row.id),
        listChunks: () => ctx.storage.listChunks(row.id),
        readChunk: (seq: number) => ctx.storage.readChunk(row.id, seq),
      };
      return verifyFiles(files, ctx.verifier, { recordingId: row.id, manifestSha256: row.manifest_sha256, knownChunks: await store.chunks(row.id) });
    },

    async verifyBundle(path) {
      if (typeof path !== 'string' || path === '') throw new AppError('invalid_request', { publicMessage: 'A bundle folder is required.' });
      const report = await verifyFiles(bundleFiles(path), ctx.verifier, { recordingId: null });
      const bundleKey = await bundlePublicKeyId(path);
      if (bundleKey !== null && report.keyId !== null && bundleKey !== report.keyId) {
        report.problems.push(`public-key.txt holds key ${bundleKey}, not the key ${report.keyId} that signed the manifest`);
        report.ok = false;
      }
      return report;
    },

    async delete(id, by, reason, context) {
      const why = checkReason(reason);
      checkActor(by);
      const row = await existing(id);
      if (row.legal_hold) throw new AppError('legal_hold');
      if (row.state === 'recording') throw new AppError('conflict', { publicMessage: 'The recording is still running; end its session first.' });
      await ctx.audit('recording.deleted', 'success', row.id, by, { session: row.session_id, assetId: row.asset_id, reason: why }, context);
      await remove(row, by.id, why);
    },

    async setLegalHold(id, hold, by, reason, context) {
      if (typeof hold !== 'boolean') throw new AppError('invalid_request', { publicMessage: 'hold must be true or false.' });
      const why = checkReason(reason);
      checkActor(by);
      const row = await existing(id);
      await ctx.audit('recording.legal_hold_set', 'success', row.id, by, { hold, reason: why, session: row.session_id }, context);
      await store.setLegalHold(row.id, hold);
    },

    async sweepRetention() {
      let deleted = 0;
      const failed = new Set<string>();
      for (;;) {
        const batch = (await store.expired(ctx.clock.now(), SWEEP_BATCH + failed.size)).filter((r) => !failed.has(r.id));
        if (batch.length === 0) return deleted;
        for (const row of batch) {
          try {
            await ctx.audit('recording.expired', 'success', row.id, ctx.system, {
              session: row.session_id,
              assetId: row.asset_id,
              retentionDays: row.retention_days,
              endedAt: row.ended_at_ms === null ? null : new Date(row.ended_at_ms).toISOString(),
            });
            await remove(row, ctx.system.id, 'retention');
            deleted++;
          } catch (error) {
            failed.add(row.id);
            ctx.logger.error({ err: error, recordingId: row.id }, 'recording: an expired recording could not be deleted; retried at the next sweep');
          }
        }
      }
    },

    startRetentionJob(intervalMs = HOUR_MS) {
      if (!Number.isInteger(intervalMs) || intervalMs < 1_000) throw new TypeError('startRetentionJob: intervalMs must be an integer ≥ 1000');
      let running: Promise<unknown> | undefined;
      const run = (): void => {
        running ??= recordings.sweepRetention()
          .then((n) => n > 0 && ctx.logger.info({ deleted: n }, 'recording: expired recordings deleted'))
          .catch((error: unknown) => ctx.logger.error({ err: error }, 'recording: the retention sweep failed'))
          .finally(() => (running = undefined));
      };
      const first = setTimeout(run, 0);
      const timer = setInterval(run, intervalMs);
      first.unref();
      timer.unref();
      return () => {
        clearTimeout(first);
        clearInterval(timer);
      };
    },
  };
  return recordings;
}

function checkBegin(info: BeginInfo): void {
  const bad = (what: string) => new AppError('invalid_request', { publicMessage: `Invalid recording start: ${what}.` });
  if (!info || typeof info !== 'object') throw bad('no details');
  if (typeof info.sessionId !== 'string' || !UUID.test(info.sessionId)) throw bad('sessionId must be a UUID');
  if (typeof info.assetId !== 'string' || info.assetId === '') throw bad('assetId is required');
  if (typeof info.userId !== 'string' || info.userId === '') throw bad('userId is required');
  if (!Number.isInteger(info.retentionDays) || info.retentionDays < 1 || info.retentionDays > 36_500) throw bad('retentionDays must be 1 to 36500');
}

function checkFilter<T extends { from?: number | undefined; to?: number | undefined; text?: string | undefined; userId?: string | undefined; assetId?: string | undefined }>(filter: T): T {
  const bad = (what: string) => new AppError('invalid_request', { publicMessage: what });
  if (!filter || typeof filter !== 'object') throw bad('Invalid filter.');
  for (const key of ['from', 'to'] as const) {
    const v = filter[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw bad(`${key} must be a time in milliseconds.`);
  }
  for (const key of ['text', 'userId', 'assetId'] as const) {
    const v = filter[key];
    if (v !== undefined && (typeof v !== 'string' || v.length > 500)) throw bad(`${key} must be text of at most 500 characters.`);
  }
  return filter;
}

function checkReason(reason: string): string {
  const text = typeof reason === 'string' ? reason.replace(NO_CONTROL, ' ').trim() : '';
  if (text === '' || text.length > REASON_MAX) throw new AppError('invalid_request', { publicMessage: `A reason of 1 to ${REASON_MAX} characters is required.` });
  return text;
}

function checkActor(by: Actor): void {
  if (!by || typeof by !== 'object' || typeof by.id !== 'string' || by.id === '') throw new AppError('invalid_request', { publicMessage: 'Who acts is required.' });
}
