import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditReader, type Audit, type AuditEventInput } from '../../src/audit/index.js';
import { rowToEvent } from '../../src/audit/chain.js';
import { ChainChecker } from '../../src/audit/chain-checker.js';
import { COPY_EVENT_COLUMNS, CopyRowChecker, decodeField, parseRows, unescapeCopyText } from '../../src/audit/copy-rows.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';

describe('COPY text fields', () => {
  it('decodes every escape of the text format, and tells null from the text \\N', () => {
    expect(decodeField('\\N')).toBeNull();
    expect(decodeField('\\\\N')).toBe('\\N');
    expect(decodeField('')).toBe('');
    expect(decodeField('plain ação 😀')).toBe('plain ação 😀');
    expect(unescapeCopyText('a\\tb\\nc\\rd\\be\\ff\\vg\\\\h')).toBe('a\tb\nc\rd\be\ff\vg\\h');
    // Octal and hex are bytes: several of them spell one UTF-8 character.
    expect(unescapeCopyText('\\101\\x42\\303\\251\\xe2\\x9c\\x93\\7')).toBe('ABé✓\u0007');
    // A backslash before any other character is that character.
    expect(unescapeCopyText('\\q\\"')).toBe('q"');
    expect(() => unescapeCopyText('ends with \\')).toThrow(/lone backslash/);
  });

  it('refuses rows with the wrong number of fields', () => {
    expect(() => parseRows('a\tb\n')).toThrow(/fields/);
    expect(() => parseRows(`${'x\t'.repeat(17)}x\n`)).toThrow(/more than 17/);
  });
});

/** Values that need escaping somewhere: in COPY text, in JSON, or both; and nulls next to empty strings. */
const TRICKY = ['tab\there', 'new\nline\r\n', 'back\\slash \\N \\\\', 'quote " and \'', 'ctrl \u0001\u001f\u007f', 'ação – ñ ✓', 'emoji 😀👩‍💻', '\\N', ''];

function trickyEvents(): AuditEventInput[] {
  const events: AuditEventInput[] = [];
  TRICKY.forEach((text, i) => {
    events.push(
      sampleEvent(i, { actor: { kind: 'user', id: `user ${text}`, name: text }, details: { text, nested: { text } } }),
      sampleEvent(i, { userAgent: text, requestId: text, sourceIp: null, target: { kind: `kind ${text}`, id: text || 'id' } }),
      sampleEvent(i, { actor: { kind: 'agent', id: text || 'id', name: null }, target: null, userAgent: null, requestId: null, details: {} }),
      // Only details carries it: JSON escapes it, COPY doubles the backslashes, and the row stays on the fast path.
      sampleEvent(i, { details: { text, [text]: [text] } }),
    );
  });
  // Plain events, which take the fast path, around the tricky ones.
  for (let i = 0; i < 20; i++) events.push(sampleEvent(100 + i));
  return events;
}

describe.skipIf(!TEST_DATABASE_URL)('verification through COPY (PostgreSQL)', () => {
  let t: TestDatabase;
  let audit: Audit;

  beforeEach(async () => {
    t = await createTestDatabase();
    audit = buildAudit(t.database, t.dataDir, { checkpointEvery: 7 });
    await audit.trail.start();
    for (const event of trickyEvents()) await audit.trail.record(event);
  });
  afterEach(async () => {
    await audit.trail.close();
    await t.cleanup();
  });

  async function copyText(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of t.database.copyOut!(`SELECT ${COPY_EVENT_COLUMNS} FROM audit_events WHERE seq >= $1 ORDER BY seq`, [1])) {
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  /** The same verification without COPY: rows through Kysely. */
  const plainReader = () => createAuditReader(t.database.db);

  it('reads every row exactly as the driver does', async () => {
    const rows = await t.database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
    expect(parseRows((await copyText()).toString('utf8'))).toEqual(rows.map(rowToEvent));
  });

  it('gives the same result as the plain path, whatever the chunk boundaries', async () => {
    const plain = await plainReader().verify(audit.verifier);
    expect(plain).toMatchObject({ ok: true, events: trickyEvents().length });
    expect(await audit.reader.verify(audit.verifier)).toEqual(plain);
    expect(await audit.reader.verify(audit.verifier, { fromSeq: 5 })).toEqual(await plainReader().verify(audit.verifier, { fromSeq: 5 }));

    // Chunks that split rows and UTF-8 characters anywhere.
    const text = await copyText();
    for (const size of [1, 3, 64, 1000]) {
      const checker = new ChainChecker(audit.verifier, { allowGaps: false, startAnywhere: false });
      const rows = new CopyRowChecker(checker);
      for (let i = 0; i < text.length; i += size) expect(rows.push(text.subarray(i, i + size))).toBe(true);
      rows.end();
      expect(checker.finish({ requireAllCheckpoints: false })).toMatchObject({ ok: true, events: plain.events, lastHash: plain.lastHash });
    }
  });

  it('names the same altered event with the same reason as the plain path, tricky or plain', async () => {
    const total = trickyEvents().length;
    // A tab in a text column sends the row to the reference path; the other forgeries keep it on the fast path.
    const cases = [
      [2, 'user_agent', 'forged\ttab 😀'],
      [4, 'details', '{"forged":"\\"😀\\\\"}'],
      [5, 'actor_name', 'forged 😀'],
      [9, 'details', '{"forged":"\t😀"}'],
      [total - 3, 'actor_id', 'forged 😀'],
    ] as const;
    for (const [seq, column, forged] of cases) {
      await sql`ALTER TABLE audit_events DISABLE TRIGGER USER`.execute(t.database.db);
      const before = await sql<{ v: string | null }>`SELECT ${sql.ref(column)} AS v FROM audit_events WHERE seq = ${seq}`.execute(t.database.db);
      await sql`UPDATE audit_events SET ${sql.ref(column)} = ${forged} WHERE seq = ${seq}`.execute(t.database.db);
      const fast = await audit.reader.verify(audit.verifier);
      expect(fast).toEqual(await plainReader().verify(audit.verifier));
      expect(fast.failure).toEqual({ seq, reason: 'stored hash does not match the event content (event altered)' });
      await sql`UPDATE audit_events SET ${sql.ref(column)} = ${before.rows[0]!.v} WHERE seq = ${seq}`.execute(t.database.db);
      await sql`ALTER TABLE audit_events ENABLE TRIGGER USER`.execute(t.database.db);
      expect(await audit.reader.verify(audit.verifier)).toMatchObject({ ok: true });
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)('copyOut (PostgreSQL)', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const read = async (params: number[]) => {
    const chunks: Buffer[] = [];
    for await (const chunk of t.database.copyOut!('SELECT $1::bigint - $2::bigint, 1-$2', params)) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  };

  it('accepts only safe integers as parameters', async () => {
    expect(await read([5, -3])).toBe('8\t4\n');
    await expect(read([1.5, 1])).rejects.toThrow(/safe integer/);
    await expect(read([2 ** 53, 1])).rejects.toThrow(/safe integer/);
    await expect(read([1])).rejects.toThrow(/no parameter for \$2/);
  });

  it('hands its connection back when the reader stops early', async () => {
    for (let i = 0; i < 40; i++) {
      for await (const _ of t.database.copyOut!('SELECT g FROM generate_series(1, 200000) g', [])) break;
    }
    expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(t.database.db)).rows).toEqual([{ one: 1 }]);
  });

  it('leaves no query timer behind, after a whole COPY, an early stop or an error', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    await read([1, 2]);
    const before = timers();
    for (let i = 0; i < 5; i++) {
      await read([1, 2]);
      for await (const _ of t.database.copyOut!('SELECT g FROM generate_series(1, 100000) g', [])) break;
      const failing = async () => {
        for await (const _ of t.database.copyOut!('SELECT 1 / $1', [0]));
      };
      await expect(failing()).rejects.toThrow(/division by zero/);
    }
    // The pool's idle timers may only go down (discarded connections); a query timer left behind per COPY would add 15.
    expect(timers()).toBeLessThanOrEqual(before);
  });
});
