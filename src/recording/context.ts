import type { Actor, AuditAction, AuditTrail, DocumentSigner, DocumentVerifier, Outcome } from '../audit/index.js';
import type { Clock, IdGenerator } from '../core/index.js';
import type { RecordingStore } from './recording-store.js';
import type { RecordingCallContext, RecordingsLogger, RecordingStorage } from './types.js';

/** What the parts of the service share (built once by createRecordings). */
export interface RecordingContext {
  store: RecordingStore;
  storage: RecordingStorage;
  trail: AuditTrail;
  signer: DocumentSigner;
  verifier: DocumentVerifier;
  clock: Clock;
  ids: IdGenerator;
  nodeId: string;
  logger: RecordingsLogger;
  flushIntervalMs: number;
  maxChunkBytes: number;
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
