import { describe, expect, it } from 'vitest';
import type { AuditEventInput, AuditTrail } from '../../src/audit/index.js';
import { createMemoryState } from '../../src/cluster/index.js';
import { AppError } from '../../src/core/index.js';
import { createReplayAudit, REPLAY_AUDIT_WINDOW_MS } from '../../src/http/recordings/replay-audit.js';
import type { Principal } from '../../src/identity/index.js';
import type { RecordingSummary } from '../../src/recording/index.js';
import { ManualClock } from '../support/manual-clock.js';

const viewer: Principal = { kind: 'user', id: 'u-viewer', name: 'Viewer', roles: ['auditor'], groups: [], via: 'session', mfa: true };
const other: Principal = { ...viewer, id: 'u-other', name: 'Other' };
const recording = (id: string): RecordingSummary => ({
  id,
  sessionId: '5b0f0c53-6a39-4f0e-9a51-8a3e1d4c2b11',
  assetId: 'portal',
  userId: 'u-owner',
  nodeId: 'n1',
  startedAt: '2026-01-05T09:00:00.000Z',
  endedAt: '2026-01-05T09:10:00.000Z',
  state: 'sealed',
  complete: true,
  incompleteReason: null,
  chunks: 1,
  bytes: 100,
  frames: 1,
  events: 1,
  durationMs: 600_000,
  manifestSha256: 'a'.repeat(64),
  retentionDays: 365,
  legalHold: false,
});

/** A trail that keeps what it is given, and fails while `failing` is set (as the real one does without database and spool). */
function fakeTrail() {
  const events: AuditEventInput[] = [];
  const state = { failing: false };
  const trail = {
    async record(event: AuditEventInput) {
      if (state.failing) throw new AppError('audit_unavailable');
      events.push(event);
      return {} as never;
    },
  } as unknown as AuditTrail;
  return { trail, events, state };
}

describe('recording.replayed: once per viewer and recording in 10 minutes, never skipped when it failed', () => {
  it('records the first fetch, skips the rest of the window, and records again after it', async () => {
    const clock = new ManualClock();
    const state = createMemoryState({ clock });
    const { trail, events } = fakeTrail();
    const audit = createReplayAudit({ trail, state });
    const a = recording('11111111-1111-4111-8111-111111111111');
    const b = recording('22222222-2222-4222-8222-222222222222');

    await audit.replayed(viewer, a, 'page', { requestId: 'r1' });
    await audit.replayed(viewer, a, 'events', {});
    await audit.replayed(viewer, a, 'frames', {}, { fromMs: 5000 });
    // Another recording, another viewer: each their own record.
    await audit.replayed(viewer, b, 'frame', {});
    await audit.replayed(other, a, 'manifest', {});
    clock.advance(REPLAY_AUDIT_WINDOW_MS - 1);
    await audit.replayed(viewer, a, 'frames', {});
    clock.advance(2);
    await audit.replayed(viewer, a, 'frames', {}, { fromMs: 0 });

    expect(events.map((e) => [e.actor.id, e.target?.id, e.details?.part])).toEqual([
      ['u-viewer', a.id, 'page'],
      ['u-viewer', b.id, 'frame'],
      ['u-other', a.id, 'manifest'],
      ['u-viewer', a.id, 'frames'],
    ]);
    expect(events[0]).toMatchObject({
      action: 'recording.replayed',
      outcome: 'success',
      target: { kind: 'recording', id: a.id },
      requestId: 'r1',
      // `session`: the redactor would blank a field named sessionId.
      details: { session: a.sessionId, assetId: 'portal', userId: 'u-owner', part: 'page', via: 'session' },
    });
    await state.close();
  });

  it('fails the request when the record cannot be written, and records the next one (no unaudited replay)', async () => {
    const clock = new ManualClock();
    const state = createMemoryState({ clock });
    const { trail, events, state: faults } = fakeTrail();
    const audit = createReplayAudit({ trail, state });
    const a = recording('33333333-3333-4333-8333-333333333333');

    faults.failing = true;
    await expect(audit.replayed(viewer, a, 'frames', {})).rejects.toMatchObject({ code: 'audit_unavailable' });
    await expect(audit.replayed(viewer, a, 'frames', {})).rejects.toMatchObject({ code: 'audit_unavailable' });
    faults.failing = false;
    await audit.replayed(viewer, a, 'frames', {});
    await audit.replayed(viewer, a, 'frames', {});
    expect(events).toHaveLength(1);
    await state.close();
  });
});
