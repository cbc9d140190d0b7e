import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeResult, verifyExportFile, type Audit } from '../../src/audit/index.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const actor = { kind: 'user' as const, id: 'auditor-1' };

describe('an export proves it is complete', () => {
  let t: TestDatabase;
  let audit: Audit;
  let dir: string;
  beforeEach(async () => {
    t = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'webasset-export-'));
    // A checkpoint every 40 events; the export forces one more at the head.
    audit = buildAudit(t.database, t.dataDir, { checkpointEvery: 40, batchMax: 10 });
    await audit.trail.start();
    for (let i = 0; i < 95; i++) await audit.trail.record(sampleEvent(i));
  });
  afterEach(async () => {
    await audit.trail.close();
    await t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exportText(): Promise<string[]> {
    let text = '';
    for await (const chunk of await audit.service.export(actor, 'ndjson', {})) text += chunk;
    return text.trim().split('\n');
  }

  async function verify(lines: string[]) {
    const file = join(dir, `e${Math.random()}.ndjson`);
    writeFileSync(file, lines.join('\n') + '\n');
    return verifyExportFile(file, () => audit.verifier);
  }

  it('runs through a checkpoint signed at export time', async () => {
    const lines = await exportText();
    const result = await verify(lines);
    expect(result.failure).toBeNull();
    expect(result.lastCheckpoint?.seq).toBe(result.lastSeq);
    expect(describeResult(result)).toMatch(/last checkpoint at seq \d+, signed /);
  });

  it('fails when lines are cut off the end, with or without the checkpoints that named them', async () => {
    const lines = await exportText();
    const events = lines.filter((l) => l.includes('"type":"event"'));
    const cut = lines.slice(0, lines.length - 3);
    expect((await verify(cut)).ok).toBe(false);
    const lastKept = (JSON.parse(events.at(-4)!) as { seq: number }).seq;
    const cutAndHidden = cut.filter((l) => !(l.includes('"type":"checkpoint"') && (JSON.parse(l) as { seq: number }).seq > lastKept));
    const result = await verify(cutAndHidden);
    expect(result.ok).toBe(false);
    expect(result.failure?.reason).toMatch(/header says the export runs through/);
  });

  it('fails when the header is also rewritten, unless the cut lands on an older checkpoint', async () => {
    const lines = await exportText();
    const rewrite = (through: number) =>
      lines
        .filter((l) => !/"type":"(event|checkpoint)"/.test(l) || (JSON.parse(l) as { seq: number }).seq <= through)
        .map((l) => (l.includes('"type":"header"') ? l.replace(/"throughSeq":\d+/, `"throughSeq":${through}`) : l));
    const notOnCheckpoint = await verify(rewrite(90));
    expect(notOnCheckpoint.ok).toBe(false);
    expect(notOnCheckpoint.failure?.reason).toMatch(/not under a signed checkpoint/);
    // Cut back to an older signed checkpoint it verifies: but the verdict names that checkpoint's signing time.
    const cps = lines.filter((l) => l.includes('"type":"checkpoint"')).map((l) => JSON.parse(l) as { seq: number; timeMs: number });
    const older = cps[0]!;
    const onCheckpoint = await verify(rewrite(older.seq));
    expect(onCheckpoint.ok).toBe(true);
    expect(describeResult(onCheckpoint)).toContain(new Date(older.timeMs).toISOString());
  });
});
