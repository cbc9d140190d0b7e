import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportLines, verifyExportFile, type Audit, type AuditAction, type AuditFilters, type ExportFormat } from '../../src/audit/index.js';
import { buildAudit, eventCarrying, sampleEvent } from '../support/audit-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const ACTIONS: AuditAction[] = ['audit.read', 'auth.denied', 'token.created', 'auth.token.failed', 'audit.exported'];
const EVENTS = 40;

describe('audit export', () => {
  let t: TestDatabase;
  let audit: Audit;
  let file: string;

  beforeEach(async () => {
    t = await createTestDatabase();
    audit = buildAudit(t.database, t.dataDir, { checkpointEvery: 7, batchMax: 5 });
    await audit.trail.start();
    file = join(t.dataDir, 'export.ndjson');
  });
  afterEach(async () => {
    await audit.trail.close();
    await t.cleanup();
  });

  async function fill(count = EVENTS): Promise<void> {
    for (let i = 0; i < count; i++) await audit.trail.record(sampleEvent(i, { action: ACTIONS[i % ACTIONS.length]!, outcome: i % 4 === 0 ? 'denied' : 'success' }));
    await audit.trail.checkpoint();
  }

  async function exportTo(path: string, format: ExportFormat, filters: AuditFilters = {}): Promise<string> {
    const head = await t.database.db.selectFrom('audit_chain_head').select('seq').executeTakeFirstOrThrow();
    let text = '';
    for await (const chunk of exportLines(audit.reader, head.seq, {
      format,
      filters,
      publicKeys: { [audit.signer.keyId]: audit.signer.publicKey },
      nowMs: Date.now(),
    })) {
      text += chunk;
    }
    writeFileSync(path, text);
    return text;
  }

  const ndjson = async (path: string, filters: AuditFilters = {}) => (await exportTo(path, 'ndjson', filters)).split('\n').filter((l) => l !== '');

  const verify = (path: string) => verifyExportFile(path, () => audit.verifier);

  type Line = { type: string; seq: number; details?: Record<string, unknown>; action?: string };
  const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line);

  it('verifies a whole-trail NDJSON export offline', async () => {
    await fill();
    const lines = parse(await ndjson(file));
    expect(lines[0]).toMatchObject({ type: 'header', filtered: false });
    const checkpoints = lines.filter((l) => l.type === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThanOrEqual(EVENTS / 7);
    const result = await verify(file);
    expect(result).toMatchObject({ ok: true, filtered: false, events: EVENTS, firstSeq: 1, lastSeq: EVENTS, gaps: 0, failure: null });
    expect(result.checkpoints).toBe(checkpoints.length);
  });

  it('names the sequence number of an event whose details were edited in the file', async () => {
    await fill();
    const lines = await ndjson(file);
    const records = parse(lines);
    for (const seq of [1, 23, EVENTS]) {
      const index = records.findIndex((r) => r.type === 'event' && r.seq === seq);
      const edited = { ...records[index]!, details: { ...records[index]!.details, n: 999_999 } };
      const copy = [...lines];
      copy[index] = JSON.stringify(edited);
      const path = join(t.dataDir, `edited-${seq}.ndjson`);
      writeFileSync(path, copy.join('\n') + '\n');
      const result = await verify(path);
      expect(result.ok).toBe(false);
      expect(result.failure?.seq).toBe(seq);
      expect(result.failure?.reason).toMatch(/altered/);
    }
  });

  it('detects an event line removed from the middle or the end of an unfiltered export', async () => {
    await fill();
    const lines = await ndjson(file);
    const records = parse(lines);
    const without = (predicate: (r: Line) => boolean, name: string) => {
      const path = join(t.dataDir, name);
      writeFileSync(path, lines.filter((_, i) => !predicate(records[i]!)).join('\n') + '\n');
      return verify(path);
    };
    const middle = await without((r) => r.type === 'event' && r.seq === 30, 'gap.ndjson');
    expect(middle.failure?.seq).toBe(30);
    expect(middle.failure?.reason).toMatch(/missing/);
    // The last checkpointed event and everything after it: the signed checkpoint still names it.
    const checkpointSeqs = records.filter((r) => r.type === 'checkpoint').map((r) => r.seq);
    const cutFrom = Math.max(...checkpointSeqs) - 2;
    const tail = await without((r) => r.type === 'event' && r.seq >= cutFrom, 'tail.ndjson');
    expect(tail.ok).toBe(false);
    expect(tail.failure?.seq).toBe(Math.min(...checkpointSeqs.filter((s) => s >= cutFrom)));
    expect(tail.failure?.reason).toMatch(/checkpoint/);
  });

  it('verifies a filtered export (action prefix) with gaps allowed, and still catches an edit in it', async () => {
    await fill();
    const lines = await ndjson(file, { actionPrefix: 'auth' });
    const records = parse(lines);
    expect(records[0]).toMatchObject({ type: 'header', filtered: true });
    const events = records.filter((r) => r.type === 'event');
    expect(events.length).toBe(EVENTS * (2 / ACTIONS.length));
    for (const e of events) expect(e.action).toMatch(/^auth\./);
    const result = await verify(file);
    expect(result).toMatchObject({ ok: true, filtered: true, events: events.length });
    expect(result.gaps).toBeGreaterThan(0);

    const index = records.findIndex((r) => r.type === 'event' && r.seq === events[3]!.seq);
    const copy = [...lines];
    copy[index] = JSON.stringify({ ...records[index]!, action: 'auth.token.failed' === records[index]!.action ? 'auth.denied' : 'auth.token.failed' });
    writeFileSync(file, copy.join('\n') + '\n');
    expect((await verify(file)).failure).toMatchObject({ seq: events[3]!.seq });
  });

  it('writes CSV with one row per event and cells a spreadsheet will not run as formulas', async () => {
    await audit.trail.record(sampleEvent(1, { userAgent: '=HYPERLINK("http://evil.example")', details: { text: 'line1\nline2, "quoted"' } }));
    const lines = readCsvRows(await exportTo(file, 'csv'));
    expect(lines[0]!.slice(0, 3)).toEqual(['seq', 'id', 'time']);
    expect(lines).toHaveLength(2);
    expect(lines[1]![11]).toBe('\'=HYPERLINK("http://evil.example")');
    expect(JSON.parse(lines[1]![14]!)).toEqual({ text: 'line1\nline2, "quoted"' });
  });

  it('keeps hard text (unicode, quotes, lone surrogates, NUL, cut surrogate pairs) verifiable in the store and in an export', async () => {
    const hard = ['say "hi" \\ </script>', 'tab\there\r\n\u0001', 'ação 日本語 😀 e\u0301', 'a\u2028b\u2029c', 'x\uD800y', '\uDC00', 'nul\u0000byte', '\uFEFF'];
    for (const [i, value] of hard.entries()) {
      await audit.trail.record(eventCarrying(value, { i, value, [value]: [value, { nested: value }] }));
    }
    // Fields cut to their maximum length right inside a surrogate pair.
    await audit.trail.record({
      actor: { kind: 'user', id: 'cut' },
      action: 'audit.read',
      outcome: 'success',
      sourceIp: '1'.repeat(63) + '😀',
      userAgent: 'u'.repeat(511) + '😀',
      requestId: 'r'.repeat(127) + '😀',
    });
    await audit.trail.checkpoint();
    const stored = await audit.reader.verify(audit.verifier);
    expect(stored).toMatchObject({ ok: true, events: hard.length + 1, failure: null });
    await ndjson(file);
    expect(await verify(file)).toMatchObject({ ok: true, events: hard.length + 1, failure: null });
  });
});

/** Minimal RFC 4180 reader for the test: quoted cells may hold commas, quotes and line breaks. */
function readCsvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else if (c !== '\r') cell += c;
  }
  row.push(cell);
  rows.push(row);
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}
