import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Audit } from '../../src/audit/index.js';
import { openDatabase, type Database } from '../../src/store/index.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { waitForDrained, waitUntil } from '../support/audit-faults.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const WRITERS = 16;
/** Upper bound per writer, so the test stays bounded whatever the speed of the machine. */
const MAX_PER_WRITER = 3_000;

interface Ack {
  writer: number;
  i: number;
  id: string;
  spooled: boolean;
}

// The link to PGlite cannot be cut: it is inside this process.
describe.skipIf(!TEST_DATABASE_URL)('audit trail through a database cut (PostgreSQL behind a TCP proxy)', () => {
  let t: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  let audit: Audit;

  beforeEach(async () => {
    t = await createTestDatabase();
    const target = new URL(t.url!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    database = await openDatabase({ databaseUrl: proxy.rewrite(t.url!), dataDir: t.dataDir, poolMax: 20 });
    audit = buildAudit(database, t.dataDir, { batchMax: 32, checkpointEvery: 25, retryMs: 20 });
    await audit.trail.start();
  });
  afterEach(async () => {
    await audit.trail.close();
    await database.close();
    await proxy.close();
    await t.cleanup();
  });

  it('keeps every acknowledged event, exactly once and in order per writer, across two cuts', { timeout: 180_000 }, async () => {
    const acks: Ack[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const writers = Array.from({ length: WRITERS }, async (_, writer) => {
      for (let i = 0; i < MAX_PER_WRITER && !stop; i++) {
        try {
          const receipt = await audit.trail.record(sampleEvent(i, { details: { writer, i } }));
          acks.push({ writer, i, id: receipt.id, spooled: receipt.spooled });
        } catch (error) {
          failures.push(error);
          return;
        }
      }
    });
    const acked = () => acks.length;
    const spooledSince = (from: number) => acks.slice(from).filter((a) => a.spooled).length;

    await waitUntil(() => acked() >= 300 || failures.length > 0, '300 events before the cut');

    // First cut, while 16 writers are mid-stream.
    proxy.cut();
    const firstCut = acked();
    await waitUntil(() => spooledSince(firstCut) >= 150 || failures.length > 0, 'events spooled during the first cut');
    const during = audit.trail.status();
    expect(during.state).toBe('spooling');
    expect(during.reason).toBe('database unreachable');
    expect(during.spoolBytes).toBeGreaterThan(0);
    // A single caller, checked directly: the action goes ahead on the strength of the spool.
    expect(await audit.trail.record(sampleEvent(0, { requestId: 'during-cut' }))).toMatchObject({ spooled: true, seq: null });

    // Back, and cut again as soon as the trail reconnects: likely in the middle of draining the spool.
    const forwarded = proxy.forwarded;
    proxy.restore();
    await waitUntil(() => proxy.forwarded > forwarded, 'the trail to reconnect');
    proxy.cut();
    const secondCut = acked();
    await waitUntil(() => spooledSince(secondCut) >= 50 || failures.length > 0, 'events spooled during the second cut');
    expect(audit.trail.status().state).toBe('spooling');

    proxy.restore();
    await waitUntil(() => audit.trail.status().state === 'ok' || failures.length > 0, 'the trail to drain its spool');
    const restored = acked();
    await waitUntil(() => acks.slice(restored).filter((a) => !a.spooled).length >= 200 || failures.length > 0, 'direct writes after the cut');
    stop = true;
    await Promise.all(writers);
    await waitForDrained(audit.trail);
    await audit.trail.close();

    expect(failures).toEqual([]);
    expect(acks.some((a) => a.spooled)).toBe(true);

    // Read through a direct connection, not the proxy.
    const rows = await t.database.db
      .selectFrom('audit_events')
      .select(['seq', 'event_id', 'request_id', 'details'])
      .where('action', '=', 'audit.read')
      .orderBy('seq')
      .execute();
    const writerRows = rows.filter((r) => r.request_id !== 'during-cut');
    const count = new Map<string, number>();
    for (const r of writerRows) count.set(r.event_id, (count.get(r.event_id) ?? 0) + 1);
    const missing = acks.filter((a) => !count.has(a.id));
    expect(missing, `${missing.length} of ${acks.length} acknowledged events are missing`).toEqual([]);
    // Nothing extra and nothing twice: every stored writer event is one acknowledged record() call.
    expect(writerRows).toHaveLength(acks.length);
    expect([...count.values()].every((n) => n === 1)).toBe(true);
    expect(rows.filter((r) => r.request_id === 'during-cut')).toHaveLength(1);

    // In order per writer: sequence numbers rise in the order each writer issued its events.
    const lastByWriter = new Map<number, number>();
    for (const r of writerRows) {
      const { writer, i } = JSON.parse(r.details) as { writer: number; i: number };
      expect(i, `writer ${writer}`).toBe((lastByWriter.get(writer) ?? -1) + 1);
      lastByWriter.set(writer, i);
    }

    const result = await audit.reader.verify(audit.verifier);
    expect(result.failure).toBeNull();
    expect(result.ok).toBe(true);
    expect(result.events).toBe(rows.length + (await t.database.db.selectFrom('audit_events').select('seq').where('action', '!=', 'audit.read').execute()).length);
  });
});
