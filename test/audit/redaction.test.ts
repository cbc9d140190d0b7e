import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportLines, type Audit, type AuditEventInput, type ExportFormat } from '../../src/audit/index.js';
import { createRedactor, REDACTED, type Redactor } from '../../src/core/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { openUnreachableDatabase, waitForDrained } from '../support/audit-faults.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/** Registered with the redactor, as a session's vault secret would be. */
const CANARY = 'canary-7Hq2xZ9pLw4mVt';
/** Never registered: they must go because of the field names that hold them. */
const BY_NAME = {
  password: 'pw-value-Kd81nQ',
  totpSeed: 'JBSWY3DPEHPK3PXPseed',
  apiToken: 'tok-value-Zr55aM',
  authorization: 'Bearer hdr-value-Yx02',
  client_secret: 'cs-value-Pp73wE',
};
const FORBIDDEN = [CANARY, ...Object.values(BY_NAME)];
/** Ordinary data next to the secrets: it must survive, or the test would pass on an empty trail. */
const VISIBLE = 'visible-marker-3141';

function leakyEvent(n: number): AuditEventInput {
  return {
    actor: { kind: 'agent', id: `agent-${CANARY}`, name: `Agent ${CANARY}` },
    action: 'auth.denied',
    outcome: 'denied',
    target: { kind: `kind-${CANARY}`, id: `asset/${CANARY}/x` },
    sourceIp: `10.0.0.${n}-${CANARY}`,
    userAgent: `Mozilla ${CANARY}`,
    requestId: `req-${CANARY}`,
    details: {
      n,
      note: VISIBLE,
      typed: `the operator pasted ${CANARY} into a field`,
      [`key-${CANARY}`]: 'value under a secret key',
      password: BY_NAME.password,
      totpSeed: BY_NAME.totpSeed,
      apiToken: BY_NAME.apiToken,
      request: { headers: { Authorization: BY_NAME.authorization } },
      clients: [{ client_secret: BY_NAME.client_secret, name: VISIBLE }, CANARY, [CANARY]],
    },
  };
}

function expectClean(text: string, where: string): void {
  for (const secret of FORBIDDEN) expect(text.includes(secret), `${where} contains ${secret}`).toBe(false);
}

describe('audit redaction canary', () => {
  let t: TestDatabase;
  let redactor: Redactor;
  let logs: string;
  const closers: Array<() => Promise<void>> = [];

  const logger = () =>
    pino({ level: 'trace' }, { write: (line: string) => void (logs += line) });

  beforeEach(async () => {
    t = await createTestDatabase();
    redactor = createRedactor([CANARY]);
    logs = '';
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await t.cleanup();
  });

  function liveAudit(): Audit {
    const audit = buildAudit(t.database, t.dataDir, { redactor, logger: logger(), checkpointEvery: 3 });
    closers.push(() => audit.trail.close());
    return audit;
  }

  /** Every column of every row of the audit tables, as text. */
  async function databaseText(): Promise<string> {
    const parts: string[] = [];
    for (const table of ['audit_events', 'audit_checkpoints', 'audit_chain_head']) {
      const { rows } = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(table)} t`.execute(t.database.db);
      parts.push(...rows.map((r) => r.row));
    }
    return parts.join('\n');
  }

  async function exportText(audit: Audit, format: ExportFormat): Promise<string> {
    const head = await t.database.db.selectFrom('audit_chain_head').select('seq').executeTakeFirstOrThrow();
    let text = '';
    for await (const chunk of exportLines(audit.reader, head.seq, { format, filters: {}, publicKeys: {}, nowMs: Date.now() })) text += chunk;
    return text;
  }

  it('keeps secret values and secret-named fields out of the database, NDJSON and CSV exports, and the logs', async () => {
    const audit = liveAudit();
    await audit.trail.start();
    for (let n = 1; n <= 4; n++) await audit.trail.record(leakyEvent(n));
    await audit.trail.checkpoint();

    const stored = await databaseText();
    expectClean(stored, 'the database');
    expect(stored).toContain(VISIBLE);
    expect(stored).toContain(REDACTED);
    const ndjson = await exportText(audit, 'ndjson');
    expectClean(ndjson, 'the NDJSON export');
    expect(ndjson).toContain(VISIBLE);
    const csv = await exportText(audit, 'csv');
    expectClean(csv, 'the CSV export');
    expect(csv).toContain(VISIBLE);
    expect((await audit.reader.verify(audit.verifier)).ok).toBe(true);
    expectClean(logs, 'the logs');
  });

  it('keeps them out of the spool during an outage, and out of the database after the drain', async () => {
    const unreachable = await openUnreachableDatabase(t.dataDir);
    const outage = buildAudit(unreachable.database, t.dataDir, { redactor, logger: logger(), retryMs: 60_000 });
    closers.push(async () => {
      await outage.trail.close();
      await unreachable.close();
    });
    await outage.trail.start();
    for (let n = 1; n <= 3; n++) expect(await outage.trail.record(leakyEvent(n))).toMatchObject({ spooled: true });
    await outage.trail.close();

    const spool = readFileSync(join(t.dataDir, 'audit-spool', 'events.ndjson'), 'utf8');
    expect(spool.split('\n').filter(Boolean)).toHaveLength(3);
    expectClean(spool, 'the spool');
    expect(spool).toContain(VISIBLE);

    const audit = liveAudit();
    await audit.trail.start();
    await waitForDrained(audit.trail);
    const stored = await databaseText();
    expectClean(stored, 'the database after the drain');
    expect(stored).toContain(VISIBLE);
    expectClean(logs, 'the logs');
  });
});
