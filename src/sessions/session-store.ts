import { sql, type Kysely, type Selectable } from 'kysely';
import type { BrowserSessionRow, Tables } from '../store/index.js';
import { END_REASONS, SESSION_STATES, type EndReason, type SessionRecord, type SessionState } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LIST_MAX = 500;

/** What a start asks for; the limits are the asset's policy at the time of the request. */
export interface Reservation {
  id: string;
  assetId: string;
  userId: string;
  principalKind: 'user' | 'agent';
  credential: string | null;
  /** The operator an agent acts for, or null. */
  onBehalfOf: string | null;
  nodeId: string;
  now: number;
  maxSessions: number | null;
  maxSessionsPerCredential: number;
  /** The caller's live sessions on the asset when access decided; a higher count now means deciding again. */
  decidedOwnCount: number;
}

export type ReserveResult =
  | { ok: true; record: SessionRecord }
  | { ok: false; code: 'asset_in_use' | 'credential_in_use'; inUse: number; limit: number }
  | { ok: false; code: 'decide_again' }
  | { ok: false; code: 'asset_gone' };

/** The rows of browser sessions: every write is conditional on the state it leaves, so two enders cannot both win. */
export function createSessionStore(db: Kysely<Tables>) {
  async function countLive(where: { assetId?: string; userId?: string; credential?: string }, trx: Kysely<Tables> = db): Promise<number> {
    const row = await trx
      .selectFrom('browser_sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '<>', 'ended')
      .$if(where.assetId !== undefined, (q) => q.where('asset_id', '=', where.assetId!))
      .$if(where.userId !== undefined, (q) => q.where('user_id', '=', where.userId!))
      .$if(where.credential !== undefined, (q) => q.where('credential', '=', where.credential!))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  return {
    countLive,

    /**
     * Counts and inserts under locks, so concurrent starts cannot pass a limit
     * together, on PostgreSQL as on PGlite: the asset's row lock serializes
     * starts of one asset, and a transaction-scoped advisory lock on the
     * credential serializes starts of every asset that shares it (taken
     * second, always, so two assets cannot deadlock).
     */
    async reserve(r: Reservation): Promise<ReserveResult> {
      return db.transaction().execute(async (trx) => {
        const asset = await trx.selectFrom('assets').select('id').where('id', '=', r.assetId).forUpdate().executeTakeFirst();
        if (!asset) return { ok: false, code: 'asset_gone' } as const;
        if (r.credential !== null) await sql`SELECT pg_advisory_xact_lock(hashtext(${`webasset.credential:${r.credential}`}))`.execute(trx);
        if ((await countLive({ assetId: r.assetId, userId: r.userId }, trx)) > r.decidedOwnCount) return { ok: false, code: 'decide_again' } as const;
        if (r.maxSessions !== null) {
          const inUse = await countLive({ assetId: r.assetId }, trx);
          if (inUse >= r.maxSessions) return { ok: false, code: 'asset_in_use', inUse, limit: r.maxSessions } as const;
        }
        if (r.credential !== null) {
          const inUse = await countLive({ credential: r.credential }, trx);
          if (inUse >= r.maxSessionsPerCredential) return { ok: false, code: 'credential_in_use', inUse, limit: r.maxSessionsPerCredential } as const;
        }
        const row = await trx
          .insertInto('browser_sessions')
          .values({
            id: r.id,
            asset_id: r.assetId,
            user_id: r.userId,
            principal_kind: r.principalKind,
            state: 'starting',
            end_reason: null,
            end_message: null,
            created_at_ms: r.now,
            active_at_ms: null,
            ended_at_ms: null,
            last_input_at_ms: r.now,
            node_id: r.nodeId,
            credential: r.credential,
            on_behalf_of: r.onBehalfOf,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return { ok: true, record: toSessionRecord(row) } as const;
      });
    },

    /** Takes back a reservation whose start could not be recorded: no trace of an action that did not happen. */
    async release(id: string): Promise<void> {
      await db.deleteFrom('browser_sessions').where('id', '=', id).where('state', '=', 'starting').execute();
    },

    async get(id: string): Promise<SessionRecord | null> {
      if (!UUID.test(id)) return null;
      const row = await db.selectFrom('browser_sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toSessionRecord(row) : null;
    },

    async list(userId: string | undefined): Promise<SessionRecord[]> {
      const rows = await db
        .selectFrom('browser_sessions')
        .selectAll()
        .$if(userId !== undefined, (q) => q.where('user_id', '=', userId!))
        .orderBy('created_at_ms', 'desc')
        .orderBy('id')
        .limit(LIST_MAX)
        .execute();
      return rows.map(toSessionRecord);
    },

    /** Live sessions the user started, and those agents run on their behalf, on every node. */
    async liveHeldFor(userId: string): Promise<SessionRecord[]> {
      const rows = await db
        .selectFrom('browser_sessions')
        .selectAll()
        .where('state', '<>', 'ended')
        .where((eb) => eb.or([eb('user_id', '=', userId), eb('on_behalf_of', '=', userId)]))
        .orderBy('created_at_ms')
        .execute();
      return rows.map(toSessionRecord);
    },

    /** Moves a live session forward; false when it had left `from` meanwhile (ended by someone else). */
    async advance(id: string, from: SessionState, to: 'logging_in' | 'active', now: number): Promise<boolean> {
      const result = await db
        .updateTable('browser_sessions')
        .set(to === 'active' ? { state: to, active_at_ms: now, last_input_at_ms: now } : { state: to })
        .where('id', '=', id)
        .where('state', '=', from)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /** Ends it unless it has ended already; returns whether this call ended it. */
    async end(id: string, reason: EndReason, message: string | null, now: number): Promise<boolean> {
      const result = await db
        .updateTable('browser_sessions')
        .set({ state: 'ended', end_reason: reason, end_message: message, ended_at_ms: now })
        .where('id', '=', id)
        .where('state', '<>', 'ended')
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async touch(id: string, at: number): Promise<void> {
      await db.updateTable('browser_sessions').set({ last_input_at_ms: at }).where('id', '=', id).where('state', '<>', 'ended').where('last_input_at_ms', '<', at).execute();
    },

    /** Which of `ids` have ended (by another node, or an administrator talking to one). */
    async endedAmong(ids: readonly string[]): Promise<Array<{ id: string; reason: EndReason }>> {
      if (ids.length === 0) return [];
      const rows = await db.selectFrom('browser_sessions').select(['id', 'end_reason']).where('id', 'in', [...ids]).where('state', '=', 'ended').execute();
      return rows.map((r) => ({ id: r.id, reason: asEndReason(r.end_reason) }));
    },

    /** Sessions this node left live (a crash, a kill): they have no browser any more. */
    async liveOnNode(nodeId: string): Promise<SessionRecord[]> {
      const rows = await db.selectFrom('browser_sessions').selectAll().where('node_id', '=', nodeId).where('state', '<>', 'ended').execute();
      return rows.map(toSessionRecord);
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;

export function toSessionRecord(row: Selectable<BrowserSessionRow>): SessionRecord {
  return {
    id: row.id,
    assetId: row.asset_id,
    userId: row.user_id,
    principalKind: row.principal_kind === 'agent' ? 'agent' : 'user',
    state: (SESSION_STATES as readonly string[]).includes(row.state) ? (row.state as SessionState) : 'ended',
    endReason: row.end_reason === null ? null : asEndReason(row.end_reason),
    endMessage: row.end_message,
    createdAt: iso(row.created_at_ms),
    activeAt: row.active_at_ms === null ? null : iso(row.active_at_ms),
    endedAt: row.ended_at_ms === null ? null : iso(row.ended_at_ms),
    lastInputAt: iso(row.last_input_at_ms),
    nodeId: row.node_id,
    credential: row.credential,
  };
}

function asEndReason(value: string | null): EndReason {
  return (END_REASONS as readonly string[]).includes(value ?? '') ? (value as EndReason) : 'browser_crashed';
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}
