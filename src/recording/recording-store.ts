import { sql, type Kysely, type Selectable } from 'kysely';
import { AppError } from '../core/index.js';
import type { RecordingChunkRow, RecordingRow, Tables } from '../store/index.js';
import type { ChunkInfo, RecordingListFilter, RecordingSummary } from './types.js';

export type RecordingRecord = Selectable<RecordingRow>;

const DAY_MS = 86_400_000;
const LIST_DEFAULT = 50;
const LIST_MAX = 200;

export interface SealFields {
  complete: boolean;
  incompleteReason: string | null;
  endedAtMs: number;
  durationMs: number;
  manifestSha256: string;
  /** Every chunk of the manifest: the totals are theirs. */
  chunks: readonly ChunkInfo[];
  /** Those of `chunks` whose row may be missing: inserted here (a row already there is kept). */
  withoutRow: readonly ChunkInfo[];
}

/** The SQL of the recordings tables; nothing else in the module writes them. */
export interface RecordingStore {
  insert(row: { id: string; sessionId: string; assetId: string; userId: string; nodeId: string; startedAtMs: number; retentionDays: number }): Promise<void>;
  get(id: string): Promise<RecordingRecord | null>;
  bySession(sessionId: string): Promise<RecordingRecord | null>;
  /** Adds a chunk row and the recording's counters in one transaction; `searchText` replaces the stored one when given. */
  addChunk(id: string, chunk: ChunkInfo, searchText: string | undefined): Promise<void>;
  chunks(id: string): Promise<ChunkInfo[]>;
  /** Seals: inserts the rows of `withoutRow` (the last chunk, or files found at recovery), sets the totals from the manifest's list. */
  seal(id: string, fields: SealFields, searchText?: string): Promise<void>;
  unsealed(nodeId: string): Promise<RecordingRecord[]>;
  list(filter: RecordingListFilter): Promise<{ rows: RecordingRecord[]; nextCursor: string | null }>;
  markDeleted(id: string, atMs: number, by: string, reason: string): Promise<void>;
  setLegalHold(id: string, hold: boolean): Promise<void>;
  /** Sealed recordings past their retention at `nowMs`, not held, oldest first. */
  expired(nowMs: number, limit: number): Promise<RecordingRecord[]>;
}

export function createRecordingStore(db: Kysely<Tables>): RecordingStore {
  return {
    async insert(r) {
      await db
        .insertInto('recordings')
        .values({
          id: r.id,
          session_id: r.sessionId,
          asset_id: r.assetId,
          user_id: r.userId,
          node_id: r.nodeId,
          started_at_ms: r.startedAtMs,
          ended_at_ms: null,
          state: 'recording',
          complete: null,
          incomplete_reason: null,
          manifest_sha256: null,
          retention_days: r.retentionDays,
          deleted_at_ms: null,
          deleted_by: null,
          delete_reason: null,
        })
        .execute();
    },
    async get(id) {
      return (await db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
    },
    async bySession(sessionId) {
      return (await db.selectFrom('recordings').selectAll().where('session_id', '=', sessionId).executeTakeFirst()) ?? null;
    },
    async addChunk(id, chunk, searchText) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('recording_chunks').values(chunkRow(id, chunk)).execute();
        await trx
          .updateTable('recordings')
          .set((eb) => ({
            chunks: eb('chunks', '+', 1),
            bytes: eb('bytes', '+', chunk.bytes),
            frames: eb('frames', '+', chunk.frames),
            events: eb('events', '+', chunk.events),
            duration_ms: sql<number>`GREATEST(duration_ms, ${chunk.endMs})`,
            ...(searchText === undefined ? {} : { search_text: searchText }),
          }))
          .where('id', '=', id)
          .execute();
      });
    },
    async chunks(id) {
      const rows = await db.selectFrom('recording_chunks').selectAll().where('recording_id', '=', id).orderBy('seq').execute();
      return rows.map(toChunkInfo);
    },
    async seal(id, f, searchText) {
      await db.transaction().execute(async (trx) => {
        if (f.withoutRow.length > 0) {
          await trx
            .insertInto('recording_chunks')
            .values(f.withoutRow.map((c) => chunkRow(id, c)))
            .onConflict((oc) => oc.columns(['recording_id', 'seq']).doNothing())
            .execute();
        }
        const sum = (key: 'bytes' | 'frames' | 'events') => f.chunks.reduce((n, c) => n + c[key], 0);
        await trx
          .updateTable('recordings')
          .set({
            state: 'sealed',
            complete: f.complete,
            incomplete_reason: f.incompleteReason,
            ended_at_ms: f.endedAtMs,
            duration_ms: f.durationMs,
            manifest_sha256: f.manifestSha256,
            chunks: f.chunks.length,
            bytes: sum('bytes'),
            frames: sum('frames'),
            events: sum('events'),
            ...(searchText === undefined ? {} : { search_text: searchText }),
          })
          .where('id', '=', id)
          .where('state', '=', 'recording')
          .execute();
      });
    },
    async unsealed(nodeId) {
      return db.selectFrom('recordings').selectAll().where('state', '=', 'recording').where('node_id', '=', nodeId).orderBy('started_at_ms').execute();
    },
    async list(filter) {
      const limit = pageSize(filter.limit);
      let q = db.selectFrom('recordings').selectAll().where('state', '<>', 'deleted');
      if (filter.assetIds !== undefined) {
        if (filter.assetIds.length === 0) return { rows: [], nextCursor: null };
        q = q.where('asset_id', 'in', [...filter.assetIds]);
      }
      if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
      if (filter.assetId !== undefined) q = q.where('asset_id', '=', filter.assetId);
      // Recordings that overlap [from, to]; one still running reaches to now.
      if (filter.from !== undefined) {
        const from = filter.from;
        q = q.where((eb) => eb.or([eb('ended_at_ms', 'is', null), eb('ended_at_ms', '>=', from)]));
      }
      if (filter.to !== undefined) q = q.where('started_at_ms', '<=', filter.to);
      if (filter.text !== undefined && filter.text !== '') q = q.where('search_text', 'ilike', `%${escapeLike(filter.text)}%`);
      if (filter.cursor !== undefined) {
        const c = parseCursor(filter.cursor);
        q = q.where((eb) => eb.or([eb('started_at_ms', '<', c.s), eb.and([eb('started_at_ms', '=', c.s), eb('id', '<', c.i)])]));
      }
      const rows = await q.orderBy('started_at_ms', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const last = page.at(-1);
      return { rows: page, nextCursor: more && last ? makeCursor(last) : null };
    },
    async markDeleted(id, atMs, by, reason) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('recording_chunks').where('recording_id', '=', id).execute();
        await trx.updateTable('recordings').set({ state: 'deleted', deleted_at_ms: atMs, deleted_by: by, delete_reason: reason }).where('id', '=', id).execute();
      });
    },
    async setLegalHold(id, hold) {
      await db.updateTable('recordings').set({ legal_hold: hold }).where('id', '=', id).execute();
    },
    async expired(nowMs, limit) {
      return db
        .selectFrom('recordings')
        .selectAll()
        .where('state', '=', 'sealed')
        .where('legal_hold', '=', false)
        .where(sql<boolean>`ended_at_ms + retention_days::bigint * ${DAY_MS} < ${nowMs}`)
        .orderBy('ended_at_ms')
        .limit(limit)
        .execute();
    },
  };
}

export function toSummary(r: RecordingRecord): RecordingSummary {
  return {
    id: r.id,
    sessionId: r.session_id,
    assetId: r.asset_id,
    userId: r.user_id,
    nodeId: r.node_id,
    startedAt: new Date(r.started_at_ms).toISOString(),
    endedAt: r.ended_at_ms === null ? null : new Date(r.ended_at_ms).toISOString(),
    state: r.state as RecordingSummary['state'],
    complete: r.complete,
    incompleteReason: r.incomplete_reason,
    chunks: r.chunks,
    bytes: r.bytes,
    frames: r.frames,
    events: r.events,
    durationMs: r.duration_ms,
    manifestSha256: r.manifest_sha256,
    retentionDays: r.retention_days,
    legalHold: r.legal_hold,
  };
}

function chunkRow(id: string, c: ChunkInfo): RecordingChunkRow {
  return { recording_id: id, seq: c.seq, sha256: c.sha256, bytes: c.bytes, start_ms: c.startMs, end_ms: c.endMs, frames: c.frames, events: c.events };
}

function toChunkInfo(r: RecordingChunkRow): ChunkInfo {
  return { seq: r.seq, sha256: r.sha256, bytes: r.bytes, startMs: r.start_ms, endMs: r.end_ms, frames: r.frames, events: r.events };
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined) return LIST_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1) throw new AppError('invalid_request', { publicMessage: 'limit must be a positive integer.' });
  if (limit > LIST_MAX) throw new AppError('page_size_too_large', { publicMessage: `limit must not exceed ${LIST_MAX}.`, data: { max: LIST_MAX } });
  return limit;
}

/** `%`, `_` and `\` match themselves (PostgreSQL's default LIKE escape is the backslash). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function makeCursor(r: RecordingRecord): string {
  return Buffer.from(JSON.stringify({ s: r.started_at_ms, i: r.id })).toString('base64url');
}

function parseCursor(cursor: string): { s: number; i: string } {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown; i?: unknown };
    if (Number.isSafeInteger(parsed.s) && typeof parsed.i === 'string' && UUID.test(parsed.i)) return { s: parsed.s as number, i: parsed.i };
  } catch {
    // falls through to the refusal
  }
  throw new AppError('invalid_cursor');
}
