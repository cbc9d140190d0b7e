import { sql, type RawBuilder } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalEventText, chainHash, type Audit } from '../../src/audit/index.js';
import { rowToEvent } from '../../src/audit/chain.js';
import type { ChainedEvent } from '../../src/audit/event.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const EVENTS = 30;
const CHECKPOINT_EVERY = 8;

// Both test columns connect as a superuser (PGlite always is one), who can switch the trigger off.
describe('audit tamper detection', () => {
  let t: TestDatabase;
  let audit: Audit;

  beforeEach(async () => {
    t = await createTestDatabase();
    audit = buildAudit(t.database, t.dataDir, { checkpointEvery: CHECKPOINT_EVERY, batchMax: 4 });
    await audit.trail.start();
    // One at a time, so checkpoints fall every CHECKPOINT_EVERY events and the last one is before the head.
    for (let i = 0; i < EVENTS; i++) await audit.trail.record(sampleEvent(i));
    expect(await verify()).toMatchObject({ ok: true, events: EVENTS });
  });
  afterEach(async () => {
    await audit.trail.close();
    await t.cleanup();
  });

  const run = (query: RawBuilder<unknown>) => query.execute(t.database.db);
  const verify = () => audit.reader.verify(audit.verifier);

  /** Runs statements as a superuser who first switches the append-only triggers off. */
  async function asSuperuser(...statements: Array<RawBuilder<unknown>>): Promise<void> {
    await run(sql`ALTER TABLE audit_events DISABLE TRIGGER USER`);
    await run(sql`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`);
    try {
      for (const statement of statements) await run(statement);
    } finally {
      await run(sql`ALTER TABLE audit_events ENABLE TRIGGER USER`);
      await run(sql`ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`);
    }
  }

  async function checkpointSeqs(): Promise<number[]> {
    return (await audit.reader.checkpoints(1)).map((c) => c.seq);
  }

  it('refuses UPDATE, DELETE and TRUNCATE on the audit tables while the trigger is on', async () => {
    const refused = [
      sql`UPDATE audit_events SET details = '{"forged":true}' WHERE seq = 3`,
      sql`DELETE FROM audit_events WHERE seq = ${EVENTS}`,
      sql`DELETE FROM audit_events`,
      sql`TRUNCATE audit_events`,
      sql`UPDATE audit_checkpoints SET hash = ${'0'.repeat(64)}`,
      sql`DELETE FROM audit_checkpoints`,
      sql`TRUNCATE audit_checkpoints`,
    ];
    for (const statement of refused) {
      await expect(run(statement)).rejects.toThrow(/append-only/);
    }
    expect(await verify()).toMatchObject({ ok: true, events: EVENTS });
  });

  it('names the sequence number of an event changed in place', async () => {
    for (const seq of [1, 13, EVENTS]) {
      const before = await t.database.db.selectFrom('audit_events').select('details').where('seq', '=', seq).executeTakeFirstOrThrow();
      await asSuperuser(sql`UPDATE audit_events SET details = '{"forged":true}' WHERE seq = ${seq}`);
      const result = await verify();
      expect(result.ok).toBe(false);
      expect(result.failure?.seq).toBe(seq);
      expect(result.failure?.reason).toMatch(/altered/);
      await asSuperuser(sql`UPDATE audit_events SET details = ${before.details} WHERE seq = ${seq}`);
    }
    // Other columns are covered by the hash too.
    await asSuperuser(sql`UPDATE audit_events SET outcome = 'failure' WHERE seq = 9`);
    expect((await verify()).failure?.seq).toBe(9);
  });

  it('fails at the next link or checkpoint when the forger recomputes the changed event hash', async () => {
    const k = 5;
    const row = await t.database.db.selectFrom('audit_events').selectAll().where('seq', '=', k).executeTakeFirstOrThrow();
    const forged: ChainedEvent = { ...rowToEvent(row), details: '{"forged":true}' };
    const hash = chainHash(forged.prevHash, canonicalEventText(forged, k));
    await asSuperuser(sql`UPDATE audit_events SET details = ${forged.details}, hash = ${hash} WHERE seq = ${k}`);
    expect((await verify()).failure).toMatchObject({ seq: k + 1 });
    expect((await verify()).failure?.reason).toMatch(/link/);

    // Rewriting the whole rest of the chain still leaves the signed checkpoints, and the head, disagreeing.
    let prevHash = hash;
    const rest = await t.database.db.selectFrom('audit_events').selectAll().where('seq', '>', k).orderBy('seq').execute();
    const updates: Array<RawBuilder<unknown>> = [];
    for (const r of rest) {
      const e = { ...rowToEvent(r), prevHash };
      prevHash = chainHash(prevHash, canonicalEventText(e, e.seq));
      updates.push(sql`UPDATE audit_events SET prev_hash = ${e.prevHash}, hash = ${prevHash} WHERE seq = ${e.seq}`);
    }
    await asSuperuser(...updates);
    const firstCheckpointAfter = (await checkpointSeqs()).find((s) => s >= k)!;
    const result = await verify();
    expect(result.failure?.seq).toBe(firstCheckpointAfter);
    expect(result.failure?.reason).toMatch(/checkpoint/);
  });

  it('fails on the checkpoint check when the last events, including the last checkpointed one, are deleted', async () => {
    const last = Math.max(...(await checkpointSeqs()));
    expect(last).toBeGreaterThan(2);
    await asSuperuser(sql`DELETE FROM audit_events WHERE seq >= ${last - 2}`);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.failure?.seq).toBe(last);
    expect(result.failure?.reason).toMatch(/checkpoint/);
  });

  it('fails on the head check when only events after the last checkpoint are deleted', async () => {
    const last = Math.max(...(await checkpointSeqs()));
    expect(last).toBeLessThan(EVENTS);
    await asSuperuser(sql`DELETE FROM audit_events WHERE seq > ${last}`);
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.failure?.seq).toBe(last + 1);
    expect(result.failure?.reason).toMatch(/head/);
  });

  it('still fails when the forger also rewinds the chain head to the new last event', async () => {
    const last = Math.max(...(await checkpointSeqs()));
    const keep = last - 2;
    const kept = await t.database.db.selectFrom('audit_events').select(['seq', 'hash']).where('seq', '=', keep).executeTakeFirstOrThrow();
    // The head row has no trigger at all: the application updates it on every append.
    await asSuperuser(
      sql`DELETE FROM audit_events WHERE seq > ${keep}`,
      sql`UPDATE audit_chain_head SET seq = ${kept.seq}, hash = ${kept.hash}, checkpoint_seq = ${kept.seq}`,
    );
    const result = await verify();
    expect(result.ok).toBe(false);
    expect(result.failure?.reason).toMatch(/checkpoint/);
  });

  it('names the first missing sequence number when an event is deleted from the middle', async () => {
    await asSuperuser(sql`DELETE FROM audit_events WHERE seq = 17`);
    expect((await verify()).failure).toMatchObject({ seq: 17 });
  });

  it('detects a forged checkpoint signature', async () => {
    const [first] = await checkpointSeqs();
    await asSuperuser(sql`UPDATE audit_checkpoints SET time_ms = time_ms + 1 WHERE seq = ${first!}`);
    const result = await verify();
    expect(result.failure?.seq).toBe(first);
    expect(result.failure?.reason).toMatch(/signature/);
  });
});
