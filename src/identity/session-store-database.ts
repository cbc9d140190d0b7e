import { sql, type Kysely } from 'kysely';
import type { Tables } from '../store/index.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/** Web sessions in the `web_sessions` table: the embedded default, and PostgreSQL without Redis. */
export function createDatabaseSessionStore(deps: { db: Kysely<Tables> }): SessionStore {
  const { db } = deps;
  if (typeof db?.selectFrom !== 'function') throw new TypeError('createDatabaseSessionStore: a database is required');
  const json = (record: SessionRecord) => sql<Record<string, unknown>>`${JSON.stringify(record)}::jsonb`;
  const toRecord = (row: { data: unknown; last_seen_ms: number | string }): SessionRecord => ({
    ...(row.data as SessionRecord),
    lastSeenAt: Number(row.last_seen_ms),
  });

  return {
    kind: 'database',

    async insert(idHash, record, expiresAt) {
      await db
        .insertInto('web_sessions')
        .values({
          id_hash: idHash,
          user_id: record.userId,
          data: json(record),
          created_at_ms: record.createdAt,
          last_seen_ms: record.lastSeenAt,
          expires_at_ms: expiresAt,
        })
        .execute();
    },

    async get(idHash) {
      const row = await db.selectFrom('web_sessions').select(['data', 'last_seen_ms']).where('id_hash', '=', idHash).executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    async update(idHash, record, expiresAt) {
      const result = await db
        .updateTable('web_sessions')
        .set({ data: json(record), last_seen_ms: record.lastSeenAt, expires_at_ms: expiresAt })
        .where('id_hash', '=', idHash)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async remove(idHash) {
      const row = await db.deleteFrom('web_sessions').where('id_hash', '=', idHash).returning(['data', 'last_seen_ms']).executeTakeFirst();
      return row ? toRecord(row) : null;
    },

    async move(oldHash, newHash, record, expiresAt) {
      // One statement: the old row is deleted and the new one inserted together, or neither (it was already gone).
      const { rows } = await sql<{ id_hash: string }>`
        WITH old AS (DELETE FROM web_sessions WHERE id_hash = ${oldHash} RETURNING user_id)
        INSERT INTO web_sessions (id_hash, user_id, data, created_at_ms, last_seen_ms, expires_at_ms)
        SELECT ${newHash}, user_id, ${JSON.stringify(record)}::jsonb, ${record.createdAt}, ${record.lastSeenAt}, ${expiresAt} FROM old
        RETURNING id_hash`.execute(db);
      return rows.length > 0;
    },

    async findBySessionId(sessionId) {
      const row = await db
        .selectFrom('web_sessions')
        .select(['id_hash', 'data', 'last_seen_ms'])
        .where(sql<string>`data->>'sessionId'`, '=', sessionId)
        .executeTakeFirst();
      return row ? { idHash: row.id_hash, record: toRecord(row) } : null;
    },

    async listByUser(userId) {
      const rows = await db
        .selectFrom('web_sessions')
        .select(['id_hash', 'data', 'last_seen_ms'])
        .where('user_id', '=', userId)
        .orderBy('created_at_ms')
        .execute();
      return rows.map((row) => ({ idHash: row.id_hash, record: toRecord(row) }));
    },

    async sweep(now) {
      const rows = await db.deleteFrom('web_sessions').where('expires_at_ms', '<=', now).returning(['data', 'last_seen_ms']).execute();
      return rows.map(toRecord);
    },
  };
}
