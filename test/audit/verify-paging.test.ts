import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalEventText, createChainStore, createEventHasher, type Audit } from '../../src/audit/index.js';
import { prepareEvent } from '../../src/audit/prepare.js';
import { createRedactor, randomIds, systemClock } from '../../src/core/index.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/** The hash as the chain defines it, written the plain way; the hot-path hasher must always agree. */
const reference = (prevHash: string, text: string) =>
  createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(text, 'utf8').digest('hex');

describe('the hot-path event hasher', () => {
  const deps = { clock: systemClock, ids: randomIds, redactor: createRedactor(), nodeId: 'n' };

  it('hashes exactly as the reference definition, for any text length and any previous hash', () => {
    const hasher = createEventHasher();
    const notes = ['', 'ação – ñ ✓ 😀', 'x'.repeat(20_000), '€'.repeat(9_000), '😀'.repeat(7_000)];
    const prevs = ['0'.repeat(64), randomBytes(32).toString('hex'), randomBytes(32).toString('hex').toUpperCase(), `zz${'0'.repeat(62)}`, 'abc'];
    for (const note of notes) {
      const event = prepareEvent(sampleEvent(1, { details: { note } }), deps);
      for (const prev of prevs) expect(hasher.hash(event, 5, prev)).toBe(reference(prev, canonicalEventText(event, 5)));
    }
  });

  it('writes the time as toISOString does, within a second, across seconds and before 1970', () => {
    const hasher = createEventHasher();
    const event = prepareEvent(sampleEvent(1), deps);
    const times = [0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, 1.5, -0.5, 1_733_300_000_123, 1_733_300_000_999, 1_733_300_001_000, 8.64e15, -8.64e15];
    for (const timeMs of [...times, ...times.filter((t) => Math.abs(t) < 8e15).map((t) => t + 7)]) {
      const at = { ...event, timeMs };
      expect(hasher.hash(at, 1, '0'.repeat(64))).toBe(reference('0'.repeat(64), canonicalEventText(at, 1)));
    }
    expect(() => hasher.hash({ ...event, timeMs: Number.NaN }, 1, '0'.repeat(64))).toThrow(RangeError);
  });
});

describe('audit verify over several pages', () => {
  const EVENTS = 12_000;
  let t: TestDatabase;
  let audit: Audit;

  beforeEach(async () => {
    t = await createTestDatabase();
    audit = buildAudit(t.database, t.dataDir, { checkpointEvery: 1000 });
    const store = createChainStore({ db: t.database.db, signer: audit.signer, clock: systemClock, nodeId: 'test-node', checkpointEvery: 1000 });
    const deps = { clock: systemClock, ids: randomIds, redactor: createRedactor(), nodeId: 'test-node' };
    for (let n = 0; n < EVENTS; n += 1000) {
      await store.append(Array.from({ length: 1000 }, (_, i) => prepareEvent(sampleEvent(n + i), deps)));
    }
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('walks every event, from the start and from a sequence number', async () => {
    expect(await audit.reader.verify(audit.verifier)).toMatchObject({ ok: true, events: EVENTS, checkpoints: 12 });
    expect(await audit.reader.verify(audit.verifier, { fromSeq: 5_001 })).toMatchObject({ ok: true, events: EVENTS - 5_000, firstSeq: 5_001 });
  });

  it('names the first missing event when a hole spans whole pages', async () => {
    await sql`ALTER TABLE audit_events DISABLE TRIGGER USER`.execute(t.database.db);
    await sql`DELETE FROM audit_events WHERE seq BETWEEN 4001 AND 10500`.execute(t.database.db);
    await sql`ALTER TABLE audit_events ENABLE TRIGGER USER`.execute(t.database.db);
    const result = await audit.reader.verify(audit.verifier);
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({ seq: 4001 });
    expect(result.failure?.reason).toMatch(/missing/);
  });
});
