import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { AuditEventRow, CopyOut, Tables } from '../store/index.js';
import { rowToEvent } from './chain.js';
import { ChainChecker, type VerifyResult } from './chain-checker.js';
import { COPY_EVENT_COLUMNS, CopyRowChecker } from './copy-rows.js';
import type { ChainedEvent, CheckpointRecord, Outcome } from './event.js';
import type { CheckpointVerifier } from './signer.js';

export interface AuditFilters {
  fromTimeMs?: number | undefined;
  toTimeMs?: number | undefined;
  actorId?: string | undefined;
  /** Dotted prefix: `auth` matches `auth` and `auth.login.failed`, not `authx`. */
  actionPrefix?: string | undefined;
  targetKind?: string | undefined;
  targetId?: string | undefined;
  outcome?: Outcome | undefined;
  fromSeq?: number | undefined;
  toSeq?: number | undefined;
}

export interface AuditPage {
  events: ChainedEvent[];
  /** Sequence number to continue after, or null at the end. */
  nextCursor: number | null;
}

/** Read side of the trail: search, streaming for export, and verification. */
export interface AuditReader {
  search(filters: AuditFilters, page: { after?: number | undefined; limit: number; order: 'asc' | 'desc' }): Promise<AuditPage>;
  /** Every matching event in sequence order, a page at a time. */
  stream(filters: AuditFilters, pageSize?: number): AsyncGenerator<ChainedEvent[]>;
  checkpoints(fromSeq: number, toSeq?: number): Promise<CheckpointRecord[]>;
  /** Sequence number of the newest event (0 when empty). */
  headSeq(): Promise<number>;
  /** `signal`: checked between pages, so a long walk stops when its caller goes away (shutdown). */
  verify(verifier: CheckpointVerifier, options?: { fromSeq?: number; signal?: AbortSignal | undefined }): Promise<VerifyResult>;
}

const STREAM_PAGE = 5_000;
const VERIFY_PAGE = 5_000;
const COPY_RANGE = `SELECT ${COPY_EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 AND seq <= $2 ORDER BY seq`;
/** Every column under its {@link ChainedEvent} name: verification uses the rows as they arrive, without a copy each. */
const EVENT_FIELDS = [
  'seq', 'event_id as id', 'time_ms as timeMs', 'actor_kind as actorKind', 'actor_id as actorId', 'actor_name as actorName',
  'action', 'target_kind as targetKind', 'target_id as targetId', 'outcome', 'source_ip as sourceIp', 'user_agent as userAgent',
  'request_id as requestId', 'node_id as nodeId', 'details', 'prev_hash as prevHash', 'hash',
] as const;

/**
 * `copyOut` (PostgreSQL) is the fast way to read the whole trail for
 * verification; without it (PGlite) the same walk goes through Kysely.
 */
export function createAuditReader(db: Kysely<Tables>, options: { copyOut?: CopyOut | undefined } = {}): AuditReader {
  const { copyOut } = options;

  function filtered(filters: AuditFilters): SelectQueryBuilder<Tables, 'audit_events', AuditEventRow> {
    let q = db.selectFrom('audit_events').selectAll();
    if (filters.fromTimeMs !== undefined) q = q.where('time_ms', '>=', filters.fromTimeMs);
    if (filters.toTimeMs !== undefined) q = q.where('time_ms', '<', filters.toTimeMs);
    if (filters.actorId !== undefined) q = q.where('actor_id', '=', filters.actorId);
    if (filters.actionPrefix !== undefined) {
      const prefix = filters.actionPrefix.replace(/\.+$/, '');
      q = q.where((eb) => eb.or([eb('action', '=', prefix), eb('action', 'like', `${escapeLike(prefix)}.%`)]));
    }
    if (filters.targetKind !== undefined) q = q.where('target_kind', '=', filters.targetKind);
    if (filters.targetId !== undefined) q = q.where('target_id', '=', filters.targetId);
    if (filters.outcome !== undefined) q = q.where('outcome', '=', filters.outcome);
    if (filters.fromSeq !== undefined) q = q.where('seq', '>=', filters.fromSeq);
    if (filters.toSeq !== undefined) q = q.where('seq', '<=', filters.toSeq);
    return q;
  }

  async function* stream(filters: AuditFilters, pageSize = STREAM_PAGE): AsyncGenerator<ChainedEvent[]> {
    const fetchAfter = (after: number) =>
      filtered(filters).where('seq', '>', after).orderBy('seq', 'asc').limit(pageSize).execute();
    let next = fetchAfter(0);
    for (;;) {
      const rows = await next;
      if (rows.length === 0) return;
      // Fetch the next page while the caller works on this one.
      if (rows.length === pageSize) {
        next = fetchAfter(rows[rows.length - 1]!.seq);
        // Marked handled: a consumer that stops early never awaits it.
        next.catch(() => undefined);
      }
      yield rows.map(rowToEvent);
      if (rows.length < pageSize) return;
    }
  }

  /**
   * Every stored event with `fromSeq <= seq <= toSeq`, in order. Pages are
   * sequence ranges, not LIMIT queries: before the table has statistics
   * (a young or fast-growing trail), PostgreSQL plans `ORDER BY seq LIMIT n`
   * as a bitmap scan that sorts every remaining row, for every page.
   */
  async function* range(fromSeq: number, toSeq: number): AsyncGenerator<ChainedEvent[]> {
    const fetchFrom = (lo: number) =>
      db
        .selectFrom('audit_events')
        .select(EVENT_FIELDS)
        .where('seq', '>=', lo)
        .where('seq', '<=', Math.min(lo + VERIFY_PAGE - 1, toSeq))
        .orderBy('seq', 'asc')
        .execute() as Promise<ChainedEvent[]>;
    let lo = fromSeq;
    let next = lo <= toSeq ? fetchFrom(lo) : undefined;
    while (next) {
      const rows = await next;
      lo += VERIFY_PAGE;
      // Fetch the next page while the caller works on this one; marked handled in case the caller stops early.
      next = lo <= toSeq ? fetchFrom(lo) : undefined;
      next?.catch(() => undefined);
      if (rows.length > 0) yield rows;
    }
  }

  /**
   * The COPY text of every stored event with `fromSeq <= seq <= toSeq`, in
   * order, in chunks that may split rows: {@link range} for `copyOut`. The
   * next page's COPY runs (on another connection) while this one is read:
   * PostgreSQL sorts a page before it sends its first row, and this thread
   * would otherwise wait for it.
   */
  async function* copyRange(copy: CopyOut, fromSeq: number, toSeq: number): AsyncGenerator<Buffer> {
    const open = (lo: number) => {
      const chunks = copy(COPY_RANGE, [lo, Math.min(lo + VERIFY_PAGE - 1, toSeq)]);
      const first = chunks.next();
      // Marked handled: it is awaited only when its turn comes, or never if the walk stops early.
      first.catch(() => undefined);
      return { chunks, first };
    };
    let current = open(fromSeq);
    let next: ReturnType<typeof open> | undefined;
    try {
      for (let lo = fromSeq; ; lo += VERIFY_PAGE) {
        next = lo + VERIFY_PAGE <= toSeq ? open(lo + VERIFY_PAGE) : undefined;
        for (let chunk = await current.first; !chunk.done; chunk = await current.chunks.next()) yield chunk.value;
        if (!next) return;
        current = next;
        next = undefined;
      }
    } finally {
      // Ends the COPY streams still open (an early stop or an error), which hands their connections back.
      await Promise.allSettled([current.chunks.return(undefined), next?.chunks.return(undefined)]);
    }
  }

  async function checkpoints(fromSeq: number, toSeq?: number): Promise<CheckpointRecord[]> {
    let q = db.selectFrom('audit_checkpoints').selectAll().where('seq', '>=', fromSeq);
    if (toSeq !== undefined) q = q.where('seq', '<=', toSeq);
    const rows = await q.orderBy('seq').execute();
    return rows.map((r) => ({ seq: r.seq, hash: r.hash, timeMs: r.time_ms, nodeId: r.node_id, keyId: r.key_id, signature: r.signature }));
  }

  return {
    async search(filters, page) {
      let q = filtered(filters);
      if (page.after !== undefined) q = q.where('seq', page.order === 'asc' ? '>' : '<', page.after);
      const rows = await q.orderBy('seq', page.order).limit(page.limit + 1).execute();
      const more = rows.length > page.limit;
      const events = rows.slice(0, page.limit).map(rowToEvent);
      return { events, nextCursor: more ? events[events.length - 1]!.seq : null };
    },

    stream,
    checkpoints,

    async headSeq() {
      const head = await db.selectFrom('audit_chain_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow();
      return head.seq;
    },

    async verify(verifier, options = {}) {
      const fromSeq = Math.max(1, options.fromSeq ?? 1);
      // A snapshot of the head bounds the walk, so writers that keep appending do not race it. The same
      // statement looks for a signed checkpoint beyond the head: an append writes both in one transaction,
      // so one can only exist if events were removed at the tail and the head was moved back.
      const head = await db
        .selectFrom('audit_chain_head as h')
        .select(['h.seq', 'h.hash'])
        .select((eb) =>
          eb.selectFrom('audit_checkpoints as c').whereRef('c.seq', '>', 'h.seq').select((c) => c.fn.min('c.seq').as('seq')).as('checkpointBeyond'),
        )
        .where('h.id', '=', 1)
        .executeTakeFirstOrThrow();
      const previous =
        fromSeq > 1 ? ((await db.selectFrom('audit_events').select(['seq', 'hash']).where('seq', '=', fromSeq - 1).executeTakeFirst()) ?? null) : null;
      const checker = new ChainChecker(verifier, { allowGaps: false, startAnywhere: fromSeq > 1, previous });
      for (const cp of await checkpoints(fromSeq, head.seq)) if (!checker.addCheckpoint(cp)) break;
      if (copyOut) {
        const rows = new CopyRowChecker(checker);
        for await (const chunk of copyRange(copyOut, fromSeq, head.seq)) {
          options.signal?.throwIfAborted();
          if (!rows.push(chunk)) break;
        }
        if (!checker.failed) rows.end();
      } else {
        outer: for await (const page of range(fromSeq, head.seq)) {
          options.signal?.throwIfAborted();
          for (const event of page) if (!checker.addEvent(event)) break outer;
        }
      }
      const result = checker.finish({ requireAllCheckpoints: true });
      if (result.ok && head.seq >= fromSeq && result.lastSeq !== head.seq) {
        const end = result.lastSeq ?? 'nothing';
        return fail(result, (result.lastSeq ?? fromSeq - 1) + 1, `chain head says seq ${head.seq}, but the trail ends at ${end} (events removed at the tail?)`);
      }
      if (result.ok && result.lastSeq === head.seq && result.lastHash !== head.hash) {
        return fail(result, head.seq, 'chain head hash does not match the last event');
      }
      if (result.ok && head.checkpointBeyond !== null) {
        const seq = Number(head.checkpointBeyond);
        return fail(result, seq, `signed checkpoint names seq ${seq}, beyond the chain head at seq ${head.seq} (events removed at the tail and the head moved back?)`);
      }
      return result;
    },
  };
}

function fail(result: VerifyResult, seq: number, reason: string): VerifyResult {
  return { ...result, ok: false, failure: { seq, reason } };
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
