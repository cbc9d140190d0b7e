import type { AuditAction } from './actions.js';

export const ACTOR_KINDS = ['user', 'agent', 'system'] as const;
export const OUTCOMES = ['success', 'failure', 'denied'] as const;

export type ActorKind = (typeof ACTOR_KINDS)[number];
export type Outcome = (typeof OUTCOMES)[number];

export interface Actor {
  kind: ActorKind;
  id: string;
  name?: string | null | undefined;
}

export interface Target {
  kind: string;
  id: string;
}

/** What a caller hands to `record()`. */
export interface AuditEventInput {
  actor: Actor;
  action: AuditAction;
  outcome: Outcome;
  target?: Target | null | undefined;
  sourceIp?: string | null | undefined;
  userAgent?: string | null | undefined;
  requestId?: string | null | undefined;
  details?: Record<string, unknown> | undefined;
}

/**
 * An event after validation and redaction, before it has a place in the
 * chain. This is what the spool holds during a database outage.
 */
export interface PreparedEvent {
  id: string;
  timeMs: number;
  actorKind: ActorKind;
  actorId: string;
  actorName: string | null;
  action: string;
  targetKind: string | null;
  targetId: string | null;
  outcome: Outcome;
  sourceIp: string | null;
  userAgent: string | null;
  requestId: string | null;
  nodeId: string;
  /** Canonical JSON text of the redacted details. */
  details: string;
}

/** An event as stored in the chain. */
export interface ChainedEvent extends PreparedEvent {
  seq: number;
  prevHash: string;
  hash: string;
}

/** The public, JSON form of a stored event (API responses and NDJSON export). */
export interface AuditEventView {
  seq: number;
  id: string;
  time: string;
  actor: { kind: string; id: string; name: string | null };
  action: string;
  target: Target | null;
  outcome: string;
  sourceIp: string | null;
  userAgent: string | null;
  requestId: string | null;
  nodeId: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface CheckpointRecord {
  seq: number;
  hash: string;
  timeMs: number;
  nodeId: string;
  keyId: string;
  signature: string;
}

/** What `record()` resolves with once the event is durable. */
export interface RecordReceipt {
  id: string;
  /** Sequence number, or null while the event waits in the local spool. */
  seq: number | null;
  spooled: boolean;
}
