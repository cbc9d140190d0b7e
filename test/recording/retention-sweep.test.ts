import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/audit/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ASSET, fakeJpeg, recordingStack, sessionId, USER } from './service-support.js';

const DAY = 86_400_000;
const ADMIN: Actor = { kind: 'user', id: 'admin-1', name: 'Ada Admin' };

async function sealed(s: Awaited<ReturnType<typeof recordingStack>>, retentionDays: number) {
  const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays });
  rec.frame(fakeJpeg(1), 10, 10);
  s.clock.advance(1000);
  await rec.seal({ complete: true });
  return rec.recordingId;
}

describe('retention and deletion', () => {
  const fresh = useTestDatabase();

  it('the sweep deletes recordings past their retention, skips those under legal hold, and audits each', async () => {
    const s = await recordingStack(fresh);
    const short = await sealed(s, 1);
    const held = await sealed(s, 1);
    const long = await sealed(s, 30);
    const running = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 1 });
    await s.recordings.setLegalHold(held, true, ADMIN, 'litigation 2026-17', { requestId: 'req-1', sourceIp: '10.0.0.1' });
    expect(await s.recordings.sweepRetention()).toBe(0);

    s.clock.advance(2 * DAY);
    expect(await s.recordings.sweepRetention()).toBe(1);
    expect(await s.recordings.get(short)).toBeNull();
    expect(existsSync(join(s.dir, short))).toBe(false);
    const row = await s.db.selectFrom('recordings').selectAll().where('id', '=', short).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'deleted', deleted_by: 'node-a', delete_reason: 'retention' });
    expect(await s.db.selectFrom('recording_chunks').selectAll().where('recording_id', '=', short).execute()).toEqual([]);
    expect(await s.recordings.get(held)).toMatchObject({ state: 'sealed', legalHold: true });
    expect(existsSync(join(s.dir, held, 'manifest.json'))).toBe(true);
    expect((await s.recordings.get(long))?.state).toBe('sealed');
    expect((await s.recordings.get(running.recordingId))?.state).toBe('recording');

    await s.recordings.setLegalHold(held, false, ADMIN, 'case closed');
    expect(await s.recordings.sweepRetention()).toBe(1);
    expect(await s.recordings.get(held)).toBeNull();

    const events = await s.auditEvents();
    const expired = events.filter((e) => e.action === 'recording.expired');
    expect(expired.map((e) => e.targetId)).toEqual([short, held]);
    expect(expired[0]).toMatchObject({ outcome: 'success', details: { assetId: ASSET, retentionDays: 1 } });
    const holds = events.filter((e) => e.action === 'recording.legal_hold_set');
    expect(holds.map((e) => e.details)).toEqual([expect.objectContaining({ hold: true, reason: 'litigation 2026-17' }), expect.objectContaining({ hold: false, reason: 'case closed' })]);
    await running.seal({ complete: true });
  });

  it('an early delete needs a reason, is refused with legal_hold while held, and is audited', async () => {
    const s = await recordingStack(fresh);
    const id = await sealed(s, 365);
    await expect(s.recordings.delete(id, ADMIN, '   ')).rejects.toMatchObject({ code: 'invalid_request' });
    await s.recordings.setLegalHold(id, true, ADMIN, 'hold');
    await expect(s.recordings.delete(id, ADMIN, 'cleanup')).rejects.toMatchObject({ code: 'legal_hold', status: 409 });
    expect((await s.recordings.get(id))?.state).toBe('sealed');
    expect(existsSync(join(s.dir, id, 'chunk-000001.war'))).toBe(true);
    expect((await s.auditEvents('recording.deleted'))).toEqual([]);

    await s.recordings.setLegalHold(id, false, ADMIN, 'released');
    await s.recordings.delete(id, ADMIN, 'recorded the wrong portal by mistake', { requestId: 'req-9' });
    expect(await s.recordings.get(id)).toBeNull();
    expect(existsSync(join(s.dir, id))).toBe(false);
    const row = await s.db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'deleted', deleted_by: 'admin-1', delete_reason: 'recorded the wrong portal by mistake' });
    const deleted = await s.auditEvents('recording.deleted');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]).toMatchObject({ outcome: 'success', targetId: id, details: { reason: 'recorded the wrong portal by mistake', assetId: ASSET } });
    await expect(s.recordings.delete(id, ADMIN, 'again')).rejects.toMatchObject({ code: 'not_found' });
    await expect(s.recordings.setLegalHold(id, true, ADMIN, 'too late')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a running recording cannot be deleted', async () => {
    const s = await recordingStack(fresh);
    const rec = await s.recordings.begin({ sessionId: sessionId(), assetId: ASSET, userId: USER, retentionDays: 30 });
    await expect(s.recordings.delete(rec.recordingId, ADMIN, 'why')).rejects.toMatchObject({ code: 'conflict' });
    await rec.seal({ complete: true });
  });

  it('the retention job sweeps at once and then on its interval, until stopped', async () => {
    const s = await recordingStack(fresh);
    const id = await sealed(s, 1);
    s.clock.advance(2 * DAY);
    const stop = s.recordings.startRetentionJob(60_000);
    try {
      await expect.poll(async () => s.recordings.get(id), { timeout: 10_000 }).toBeNull();
    } finally {
      stop();
    }
    expect(() => s.recordings.startRetentionJob(5)).toThrow(TypeError);
  });
});
