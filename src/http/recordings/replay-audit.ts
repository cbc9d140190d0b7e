import type { RequestContext } from '../../access/index.js';
import type { AuditTrail } from '../../audit/index.js';
import type { SharedState } from '../../cluster/index.js';
import type { Principal } from '../../identity/index.js';
import type { RecordingSummary } from '../../recording/index.js';

/** What of a recording was fetched; the first fetch of a throttle window names it in the record. */
export type ReplayPart = 'page' | 'events' | 'frames' | 'frame' | 'manifest';

/** One `recording.replayed` per viewer and recording in this window: a replay is dozens of requests (seeks, scrubbing). */
export const REPLAY_AUDIT_WINDOW_MS = 10 * 60_000;

export interface ReplayAudit {
  /**
   * Records `recording.replayed` unless this viewer's replay of this recording
   * was recorded within the window (on any node: the mark lives in shared
   * state). Rejects when the record cannot be written; the caller then
   * answers nothing of the recording (fail closed).
   */
  replayed(principal: Principal, recording: RecordingSummary, part: ReplayPart, context: RequestContext, details?: Record<string, unknown>): Promise<void>;
}

export function createReplayAudit(deps: { trail: AuditTrail; state: SharedState; windowMs?: number }): ReplayAudit {
  const { trail, state } = deps;
  const windowMs = deps.windowMs ?? REPLAY_AUDIT_WINDOW_MS;

  const actorOf = (p: Principal) => ({ kind: p.kind, id: p.id, name: p.name });
  // `session`, not `sessionId`: the audit redactor blanks fields named like a session id (a web session's is a secret).
  const about = (r: RecordingSummary) => ({ session: r.sessionId, assetId: r.assetId, userId: r.userId });

  return {
    async replayed(principal, recording, part, context, details = {}) {
      const key = `recording-replayed:${principal.kind}:${principal.id}:${recording.id}`;
      if ((await state.get(key)) !== undefined) return;
      await trail.record({
        actor: actorOf(principal),
        action: 'recording.replayed',
        outcome: 'success',
        target: { kind: 'recording', id: recording.id },
        details: { ...about(recording), part, ...details, via: principal.via },
        ...context,
      });
      // Marked only once the record is durable: a failed record leaves the next request to try again, never unaudited.
      await state.set(key, 1, windowMs);
    },
  };
}
