import { describe, expect, it } from 'vitest';
import { describeResult } from '../../src/audit/index.js';
import { buildAudit, sampleEvent } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';

describe('audit trail', () => {
  const fresh = useTestDatabase();

  it('records events concurrently into one linear chain that verifies', async () => {
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir);
    await audit.trail.start();
    const receipts = await Promise.all(Array.from({ length: 1000 }, (_, i) => audit.trail.record(sampleEvent(i))));
    const seqs = receipts.map((r) => r.seq).sort((a, b) => a! - b!);
    expect(seqs).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await audit.trail.close();
    const result = await audit.reader.verify(audit.verifier);
    expect(describeResult(result)).toMatch(/^OK: 1000 events/);
    expect(result.checkpoints).toBeGreaterThanOrEqual(2);
  });
});
