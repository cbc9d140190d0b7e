import type { Actor, AuditAction, AuditTrail, Outcome } from '../audit/index.js';
import type { RecordingStore } from './recording-store.js';
import type { RecordingCallContext, RecordingsDeps } from './types.js';
import type { WriteLane } from './write-lane.js';

/** What the parts of the service share (built once by createRecordings): its dependencies, defaults filled in. */
export interface RecordingContext extends Omit<Required<RecordingsDeps>, 'db'> {
  store: RecordingStore;
  /** Every database write of a running or sealing recording goes through it, one per turn of the event loop. */
  lane: WriteLane;
  /** The node as the actor of what the system does (start, seal, expiry). */
  system: Actor;
  audit(action: AuditAction, outcome: Outcome, recordingId: string, actor: Actor, details: Record<string, unknown>, context?: RecordingCallContext): Promise<void>;
}

export function auditWith(trail: AuditTrail): RecordingContext['audit'] {
  return async (action, outcome, recordingId, actor, details, context = {}) => {
    await trail.record({
      actor,
      action,
      outcome,
      target: { kind: 'recording', id: recordingId },
      details,
      sourceIp: context.sourceIp,
      userAgent: context.userAgent,
      requestId: context.requestId,
    });
  };
}
