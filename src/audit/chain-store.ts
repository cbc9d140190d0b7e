import { sql, type Kysely, type Transaction } from 'kysely';
import type { Clock } from '../core/index.js';
import type { Tables } from '../store/index.js';
import { createEventHasher } from './chain.js';
import type { ChainedEvent, CheckpointRecord, PreparedEvent } from './event.js';
import type { CheckpointSigner } from './signer.js';

/**
 * Writes the chain. Every write locks the single head row first, so writers
 * in this process and in other processes on the same PostgreSQL take turns
 * and the chain never forks; a batch shares one transaction (group commit).
 */
export interface ChainStore {
  /**
   * Appends events in order in one transaction. With `skipExisting`, events
   * whose id is already stored are left out: that makes draining the spool
   * safe to repeat after a crash or an unknown commit outcome.
   */
  append(events: readonly PreparedEvent[], options?: { skipExisting?: boolean }): Promise<ChainedEvent[]>;
  /** Signs a checkpoint at the head if there are events since the last one. */
  checkpoint(): Promise<CheckpointRecord | null>;
}

export interface ChainStoreDeps {
  db: Kysely<Tables>;
  signer: CheckpointSigner;
  clock: Clock;
  nodeId: string;
  checkpointEvery: number;
}

interface Head {
  seq: number;
  hash: string;
  checkpoint_seq: number;
}

export function createChainStore(deps: ChainStoreDeps): ChainStore {
  const { db, signer, clock, nodeId, checkpointEvery } = deps;
  const hasher = createEventHasher();

  async function lockHead(trx: Transaction<Tables>): Promise<Head> {
    const { rows } = await sql<Head>`
      SELECT seq, hash, checkpoint_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE`.execute(trx);
    const head = rows[0];
    if (!head) throw new Error('audit_chain_head row is missing: the database was not migrated');
    return head;
  }

  async function writeCheckpoint(trx: Transaction<Tables>, seq: number, hash: string): Promise<CheckpointRecord> {
    const cp = signer.sign({ seq, hash, timeMs: clock.now(), nodeId });
    await sql`
      INSERT INTO audit_checkpoints (seq, hash, time_ms, node_id, key_id, signature)
      VALUES (${cp.seq}, ${cp.hash}, ${cp.timeMs}, ${cp.nodeId}, ${cp.keyId}, ${cp.signature})`.execute(trx);
    return cp;
  }

  return {
    async append(events, options = {}) {
      if (events.length === 0) return [];
      return db.transaction().execute(async (trx) => {
        const head = await lockHead(trx);
        let pending = events;
        if (options.skipExisting) {
          const ids = events.map((e) => e.id);
          const { rows } = await sql<{ event_id: string }>`
            SELECT event_id FROM audit_events WHERE event_id = ANY(${ids}::uuid[])`.execute(trx);
          const stored = new Set(rows.map((r) => r.event_id));
          pending = events.filter((e) => !stored.has(e.id));
          if (pending.length === 0) return [];
        }
        const chained = hasher.link(head, pending);
        const last = chained[chained.length - 1]!;
        const due = last.seq - head.checkpoint_seq >= checkpointEvery;
        const checkpoint = due ? signer.sign({ seq: last.seq, hash: last.hash, timeMs: clock.now(), nodeId }) : null;
        const checkpointSeq = checkpoint?.seq ?? head.checkpoint_seq;
        await writeBatch(trx, chained, checkpoint, { seq: last.seq, hash: last.hash, checkpointSeq, timeMs: clock.now() });
        return chained;
      });
    },

    async checkpoint() {
      return db.transaction().execute(async (trx) => {
        const head = await lockHead(trx);
        if (head.seq === 0 || head.seq === head.checkpoint_seq) return null;
        const cp = await writeCheckpoint(trx, head.seq, head.hash);
        await sql`UPDATE audit_chain_head SET checkpoint_seq = ${cp.seq}, checkpoint_time_ms = ${cp.timeMs} WHERE id = 1`.execute(trx);
        return cp;
      });
    },
  };
}

/**
 * One statement per batch: the events, the checkpoint when one is due, and
 * the new head. The events travel as one JSON array of rows, so the statement
 * has the same few parameters whatever the batch size; PostgreSQL reads that
 * faster than 17 array parameters, and one round trip replaces two or three.
 */
async function writeBatch(
  trx: Transaction<Tables>,
  events: readonly ChainedEvent[],
  checkpoint: CheckpointRecord | null,
  head: { seq: number; hash: string; checkpointSeq: number; timeMs: number },
): Promise<void> {
  const rows = JSON.stringify(
    events.map((e) => [
      e.seq, e.id, e.timeMs, e.actorKind, e.actorId, e.actorName, e.action, e.targetKind, e.targetId,
      e.outcome, e.sourceIp, e.userAgent, e.requestId, e.nodeId, e.details, e.prevHash, e.hash,
    ]),
  );
  const insertCheckpoint = checkpoint
    ? sql`, checkpoint AS (
        INSERT INTO audit_checkpoints (seq, hash, time_ms, node_id, key_id, signature)
        VALUES (${checkpoint.seq}, ${checkpoint.hash}, ${checkpoint.timeMs}, ${checkpoint.nodeId}, ${checkpoint.keyId}, ${checkpoint.signature}))`
    : sql``;
  await sql`
    WITH events AS (
      INSERT INTO audit_events (seq, event_id, time_ms, actor_kind, actor_id, actor_name, action, target_kind,
        target_id, outcome, source_ip, user_agent, request_id, node_id, details, prev_hash, hash)
      SELECT (r->>0)::bigint, (r->>1)::uuid, (r->>2)::bigint, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8,
        r->>9, r->>10, r->>11, r->>12, r->>13, r->>14, r->>15, r->>16
      FROM jsonb_array_elements(${rows}::jsonb) AS r)${insertCheckpoint}
    UPDATE audit_chain_head SET seq = ${head.seq}, hash = ${head.hash}, checkpoint_seq = ${head.checkpointSeq},
      checkpoint_time_ms = ${head.timeMs} WHERE id = 1`.execute(trx);
}
