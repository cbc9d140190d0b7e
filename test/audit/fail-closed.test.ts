import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditSpool, createAuditTrail, createChainStore, createCheckpointSigner, type AuditSpool } from '../../src/audit/index.js';
import { AppError, createRedactor, randomIds, systemClock } from '../../src/core/index.js';
import { buildAudit, sampleEvent, silentLogger, TEST_SIGNING_KEY } from '../support/audit-fixtures.js';
import { openUnreachableDatabase } from '../support/audit-faults.js';
import { createTestDatabase, useTestDatabase } from '../support/databases.js';

async function expectRefused(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => {
      throw new Error('record() resolved although the event could not be made durable');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe('audit_unavailable');
  expect((error as AppError).status).toBe(503);
  return error as AppError;
}

/** A spool that refuses every append while `broken` is set, like a full or read-only disk. */
function breakableSpool(inner: AuditSpool): AuditSpool & { broken: boolean } {
  return {
    broken: true,
    get path() {
      return inner.path;
    },
    async append(events) {
      if (this.broken) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return inner.append(events);
    },
    read: (offset, max) => inner.read(offset, max),
    size: () => inner.size(),
    clear: () => inner.clear(),
    close: () => inner.close(),
  };
}

describe('audit trail fails closed', () => {
  const fresh = useTestDatabase();

  it('rejects with audit_unavailable when the database is unreachable and the spool folder cannot be created', async () => {
    const unreachable = await openUnreachableDatabase(fresh.db.dataDir);
    fresh.defer(() => unreachable.close());
    const audit = buildAudit(unreachable.database, fresh.db.dataDir, { retryMs: 60_000 });
    fresh.defer(() => audit.trail.close());
    await audit.trail.start();
    // A file where the spool's folder should be: mkdir fails, whoever runs the test (root included).
    const blocker = join(fresh.db.dataDir, 'audit-spool');
    writeFileSync(blocker, 'not a folder');

    const error = await expectRefused(audit.trail.record(sampleEvent(1)));
    expect(error.publicMessage).toMatch(/refused/);
    // Several callers at once: every one of them is refused, none left hanging.
    const all = await Promise.allSettled([2, 3, 4, 5].map((n) => audit.trail.record(sampleEvent(n))));
    for (const r of all) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'audit_unavailable' });
    }

    // Once the disk is usable again, events are durable again (spooled), without a restart.
    rmSync(blocker);
    const receipt = await audit.trail.record(sampleEvent(6));
    expect(receipt).toMatchObject({ spooled: true, seq: null });
    expect(existsSync(join(fresh.db.dataDir, 'audit-spool', 'events.ndjson'))).toBe(true);
  });

  it('rejects with audit_unavailable when the database is unreachable and the spool cannot be written', async () => {
    const unreachable = await openUnreachableDatabase(fresh.db.dataDir);
    fresh.defer(() => unreachable.close());
    const signer = createCheckpointSigner(TEST_SIGNING_KEY);
    const store = createChainStore({ db: unreachable.database.db, signer, clock: systemClock, nodeId: 'n1', checkpointEvery: 100 });
    mkdirSync(join(fresh.db.dataDir, 'audit-spool'));
    const spool = breakableSpool(createAuditSpool(join(fresh.db.dataDir, 'audit-spool', 'events.ndjson')));
    const trail = createAuditTrail({
      store,
      spool,
      clock: systemClock,
      ids: randomIds,
      redactor: createRedactor(),
      logger: silentLogger(),
      nodeId: 'n1',
      batchMax: 10,
      checkpointSeconds: 3600,
      retryMs: 60_000,
    });
    fresh.defer(() => trail.close());
    await trail.start();

    await expectRefused(trail.record(sampleEvent(1)));
    spool.broken = false;
    expect(await trail.record(sampleEvent(2))).toMatchObject({ spooled: true });
    spool.broken = true;
    await expectRefused(trail.record(sampleEvent(3)));
    const { events } = await spool.read(0, 100);
    expect(events.map((e) => e.requestId)).toEqual(['req-2']);
  });

  it('rejects with audit_unavailable, and spools nothing, when the database is reachable but refuses the write', async () => {
    // Reachable but not migrated: the database answers with an error, which is not an outage.
    const bare = await createTestDatabase({ migrate: false });
    fresh.defer(() => bare.cleanup());
    const audit = buildAudit(bare.database, bare.dataDir);
    fresh.defer(() => audit.trail.close());
    await audit.trail.start();
    await expectRefused(audit.trail.record(sampleEvent(1)));
    expect(audit.trail.status()).toEqual({ state: 'ok', spoolBytes: 0, reason: null });
    expect(existsSync(join(bare.dataDir, 'audit-spool', 'events.ndjson'))).toBe(false);
  });

  it('rejects with audit_unavailable after close()', async () => {
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir);
    await audit.trail.start();
    await audit.trail.record(sampleEvent(1));
    await audit.trail.close();
    await expectRefused(audit.trail.record(sampleEvent(2)));
  });
});
