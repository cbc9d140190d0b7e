import { appendFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Audit, RecordReceipt } from '../../src/audit/index.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { openUnreachableDatabase, waitForDrained } from '../support/audit-faults.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const SPOOL = ['audit-spool', 'events.ndjson'];

describe('audit spool', () => {
  let t: TestDatabase;
  let spoolPath: string;
  const closers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    t = await createTestDatabase();
    spoolPath = join(t.dataDir, ...SPOOL);
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await t.cleanup();
  });

  /** A trail whose database cannot be reached: everything it records goes to the spool in t.dataDir. */
  async function outageTrail(): Promise<Audit> {
    const unreachable = await openUnreachableDatabase(t.dataDir);
    const audit = buildAudit(unreachable.database, t.dataDir, { retryMs: 60_000 });
    closers.push(async () => {
      await audit.trail.close();
      await unreachable.close();
    });
    await audit.trail.start();
    return audit;
  }

  /** A trail on the real test database, sharing the spool folder. */
  function liveTrail(options: { batchMax?: number } = {}): Audit {
    const audit = buildAudit(t.database, t.dataDir, options);
    closers.push(() => audit.trail.close());
    return audit;
  }

  async function recordInOrder(audit: Audit, from: number, count: number): Promise<RecordReceipt[]> {
    const receipts: RecordReceipt[] = [];
    for (let i = from; i < from + count; i++) receipts.push(await audit.trail.record(sampleEvent(i, { details: { n: i } })));
    return receipts;
  }

  async function storedEvents(): Promise<Array<{ seq: number; event_id: string; action: string; details: string }>> {
    return t.database.db.selectFrom('audit_events').select(['seq', 'event_id', 'action', 'details']).orderBy('seq').execute();
  }

  function spoolLines(): string[] {
    return readFileSync(spoolPath, 'utf8').split('\n').filter((l) => l !== '');
  }

  it('takes events while the database is unreachable, and a new trail drains them in order at start()', async () => {
    const outage = await outageTrail();
    const receipts = await recordInOrder(outage, 0, 12);
    // Concurrent callers during the outage are spooled too, each exactly once.
    receipts.push(...(await Promise.all([12, 13, 14, 15].map((i) => outage.trail.record(sampleEvent(i, { details: { n: i } }))))));
    for (const r of receipts) expect(r).toMatchObject({ spooled: true, seq: null });
    expect(outage.trail.status()).toMatchObject({ state: 'spooling', reason: 'database unreachable' });
    expect(outage.trail.status().spoolBytes).toBe(statSync(spoolPath).size);
    expect(spoolLines().map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(receipts.map((r) => r.id));
    await outage.trail.close();

    const live = liveTrail({ batchMax: 5 });
    await live.trail.start();
    // Recorded while the old spool drains: queued behind it, never ahead of it.
    const later = await recordInOrder(live, 100, 3);
    await waitForDrained(live.trail);

    const rows = await storedEvents();
    const ids = rows.map((r) => r.event_id);
    expect(ids.slice(0, 16)).toEqual(receipts.map((r) => r.id));
    const drained = rows.find((r) => r.action === 'audit.spool.drained');
    expect(drained).toBeDefined();
    for (const r of later) expect(ids.indexOf(r.id)).toBeGreaterThan(15);
    expect(rows).toHaveLength(16 + 3 + 1);
    expect(statSync(spoolPath).size).toBe(0);
    expect((await live.reader.verify(live.verifier)).ok).toBe(true);
  });

  it('ignores a torn trailing line and keeps appending cleanly after it', async () => {
    const first = await outageTrail();
    const before = await recordInOrder(first, 0, 5);
    await first.trail.close();
    // A crash in the middle of an append leaves half a line: it was never acknowledged.
    const torn = spoolLines()[0]!;
    appendFileSync(spoolPath, torn.slice(0, Math.floor(torn.length / 2)));

    // Another outage session appends after the torn line...
    const second = await outageTrail();
    const after = await recordInOrder(second, 5, 4);
    await second.trail.close();
    expect(spoolLines()).toHaveLength(9);
    // ...and one more torn line is left at the very end this time.
    appendFileSync(spoolPath, torn.slice(0, 17));

    const live = liveTrail();
    await live.trail.start();
    await waitForDrained(live.trail);
    const rows = await storedEvents();
    expect(rows.slice(0, 9).map((r) => r.event_id)).toEqual([...before, ...after].map((r) => r.id));
    expect(rows.map((r) => r.action)).toEqual([...Array<string>(9).fill('audit.read'), 'audit.spool.drained']);
    expect((await live.reader.verify(live.verifier)).ok).toBe(true);
  });

  it('creates no duplicates when a drain is repeated (crash after commit, before the spool was cleared)', async () => {
    const outage = await outageTrail();
    const receipts = await recordInOrder(outage, 0, 15);
    await outage.trail.close();
    const full = readFileSync(spoolPath);
    const lines = spoolLines();

    // First run: drains the first ten events, in batches of four, then "crashes" before clearing the rest.
    truncateSync(spoolPath, Buffer.byteLength(lines.slice(0, 10).join('\n') + '\n'));
    const first = liveTrail({ batchMax: 4 });
    await first.trail.start();
    await waitForDrained(first.trail);
    await first.trail.close();
    // The crash left the whole spool on disk: ten events already committed, five not.
    writeFileSync(spoolPath, full);

    const second = liveTrail({ batchMax: 4 });
    await second.trail.start();
    await waitForDrained(second.trail);
    const ids = (await storedEvents()).filter((r) => r.action === 'audit.read').map((r) => r.event_id);
    expect(ids).toEqual(receipts.map((r) => r.id));

    // And once more with the same spool: nothing new at all.
    await second.trail.close();
    writeFileSync(spoolPath, full);
    const third = liveTrail();
    await third.trail.start();
    await waitForDrained(third.trail);
    const { rows } = await sql<{ n: number; distinct_ids: number }>`
      SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct_ids FROM audit_events WHERE action = 'audit.read'`.execute(t.database.db);
    expect(rows[0]).toEqual({ n: 15, distinct_ids: 15 });
    expect((await third.reader.verify(third.verifier)).ok).toBe(true);
  });

  it('leaves no spool file behind when the database never went away', async () => {
    const live = liveTrail();
    await live.trail.start();
    const receipts = await recordInOrder(live, 0, 5);
    for (const r of receipts) expect(r.spooled).toBe(false);
    expect(existsSync(spoolPath)).toBe(false);
    expect(live.trail.status()).toEqual({ state: 'ok', spoolBytes: 0, reason: null });
  });
});
