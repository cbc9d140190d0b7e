import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { canonicalEventText, chainHash, type AuditEventInput } from '../src/audit/index.js';
import type { PreparedEvent } from '../src/audit/event.js';
// The baselines prepare (validate, redact, canonicalize) exactly as record() does, so only the write path differs.
import { prepareEvent, type PrepareDeps } from '../src/audit/prepare.js';

const COLUMNS =
  'seq, event_id, time_ms, actor_kind, actor_id, actor_name, action, target_kind, target_id, outcome, source_ip, user_agent, request_id, node_id, details, prev_hash, hash';

/**
 * (b) The naive way: each event is its own transaction that locks the chain
 * head, hashes, inserts one row and moves the head. Named (server-prepared)
 * statements give it its best chance. No checkpoints are signed, which only
 * flatters it.
 */
export function createNaiveWriter(pool: pg.Pool, deps: PrepareDeps): (input: AuditEventInput) => Promise<void> {
  return async (input) => {
    const event = prepareEvent(input, deps);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ seq: string; hash: string }>({
        name: 'naive-lock-head',
        text: 'SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE',
      });
      const head = rows[0]!;
      const seq = Number(head.seq) + 1;
      const hash = chainHash(head.hash, canonicalEventText(event, seq));
      await client.query({
        name: 'naive-insert',
        text: `INSERT INTO audit_events (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
        values: [seq, ...rowValues(event), head.hash, hash],
      });
      await client.query({ name: 'naive-move-head', text: 'UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1', values: [seq, hash] });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  };
}

interface Waiting {
  event: PreparedEvent;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * (c) The ceiling: the same producers and the same prepared rows, fed to the
 * same shape of group commit as the trail (one writer loop, up to `batchMax`
 * rows a batch), but each batch is one raw COPY: no hash, no head lock, no
 * chain. A call resolves when its batch's COPY has committed.
 */
export function createCopyBatcher(client: pg.PoolClient, deps: PrepareDeps, batchMax: number): (input: AuditEventInput) => Promise<void> {
  const queue: Waiting[] = [];
  const unhashed = 'f'.repeat(64);
  let seq = 0;
  let pumping = false;

  async function pump(): Promise<void> {
    pumping = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, batchMax);
        let text = '';
        for (const { event } of batch) {
          seq += 1;
          text += `${seq}\t${[...rowValues(event), unhashed, unhashed].map(copyField).join('\t')}\n`;
        }
        try {
          await pipeline(Readable.from([text]), client.query(copyFrom(`COPY audit_events (${COLUMNS}) FROM STDIN`)));
          for (const w of batch) w.resolve();
        } catch (error) {
          for (const w of batch) w.reject(error);
        }
      }
    } finally {
      pumping = false;
    }
  }

  return (input) => {
    const event = prepareEvent(input, deps);
    return new Promise<void>((resolve, reject) => {
      queue.push({ event, resolve, reject });
      if (!pumping) void pump();
    });
  };
}

/** Columns event_id .. details, in {@link COLUMNS} order. */
function rowValues(e: PreparedEvent): Array<string | number | null> {
  return [
    e.id,
    e.timeMs,
    e.actorKind,
    e.actorId,
    e.actorName,
    e.action,
    e.targetKind,
    e.targetId,
    e.outcome,
    e.sourceIp,
    e.userAgent,
    e.requestId,
    e.nodeId,
    e.details,
  ];
}

/** One field in COPY's text format. */
function copyField(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'number') return String(value);
  return value.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}
