import { createHash, hash as digestOnce } from 'node:crypto';
import type { AuditEventRow } from '../store/index.js';
import type { AuditEventView, ChainedEvent, PreparedEvent } from './event.js';

/**
 * The exact text that is hashed for one event: canonical JSON (keys sorted,
 * no whitespace) of the event with its sequence number, where `details` is
 * the stored canonical text verbatim. Written out by hand because it runs
 * once per event on the write path and during verification; a test checks
 * it equals `canonicalJson()` of the same object. `time` is the event's ISO
 * time, passed in by {@link EventHasher}, which caches it.
 */
export function canonicalEventText(event: PreparedEvent, seq: number, time = new Date(event.timeMs).toISOString()): string {
  return (
    `{"action":${str(event.action)}` +
    `,"actor":{"id":${str(event.actorId)},"kind":${str(event.actorKind)},"name":${opt(event.actorName)}}` +
    `,"details":${event.details}` +
    `,"id":${str(event.id)}` +
    `,"nodeId":${str(event.nodeId)}` +
    `,"outcome":${str(event.outcome)}` +
    `,"requestId":${opt(event.requestId)}` +
    `,"seq":${seq}` +
    `,"sourceIp":${opt(event.sourceIp)}` +
    `,"target":${event.targetKind === null ? 'null' : `{"id":${str(event.targetId ?? '')},"kind":${str(event.targetKind)}}`}` +
    `,"time":${str(time)}` +
    `,"userAgent":${opt(event.userAgent)}}`
  );
}

/** hash = SHA-256(previous hash bytes ‖ UTF-8 of the canonical event text), hex. The reference form. */
export function chainHash(prevHash: string, canonicalText: string): string {
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonicalText, 'utf8').digest('hex');
}

/**
 * The same definitions on the hot paths (group commit, verification), with
 * per-instance scratch state: one reused buffer hashed in one call, and the
 * ISO time text reused within a second. Each writer or verifier makes its own.
 */
export interface EventHasher {
  /** {@link chainHash} of the event at `seq` after `prevHash`. */
  hash(event: PreparedEvent, seq: number, prevHash: string): string;
  /** Gives prepared events their place after `head`, in order. */
  link(head: { seq: number; hash: string }, events: readonly PreparedEvent[]): ChainedEvent[];
}

export function createEventHasher(): EventHasher {
  const scratch = Buffer.allocUnsafe(256 * 1024);
  const isoTime = createIsoTime();

  function digest(prevHash: string, text: string): string {
    // A UTF-16 unit takes at most 3 UTF-8 bytes; anything unusual takes the reference path.
    if (prevHash.length === 64 && text.length * 3 <= scratch.length - 32 && scratch.write(prevHash, 0, 32, 'hex') === 32) {
      const end = 32 + scratch.write(text, 32, 'utf8');
      return digestOnce('sha256', scratch.subarray(0, end), 'hex');
    }
    return chainHash(prevHash, text);
  }

  const hash = (event: PreparedEvent, seq: number, prevHash: string) => digest(prevHash, canonicalEventText(event, seq, isoTime(event.timeMs)));

  return {
    hash,
    link(head, events) {
      let { seq, hash: last } = head;
      return events.map((event) => {
        seq += 1;
        const prevHash = last;
        last = hash(event, seq, prevHash);
        // Written out: V8 copies `{ ...event, seq, prevHash, hash }` on a slow path, which cost more than the hash.
        return {
          id: event.id,
          timeMs: event.timeMs,
          actorKind: event.actorKind,
          actorId: event.actorId,
          actorName: event.actorName,
          action: event.action,
          targetKind: event.targetKind,
          targetId: event.targetId,
          outcome: event.outcome,
          sourceIp: event.sourceIp,
          userAgent: event.userAgent,
          requestId: event.requestId,
          nodeId: event.nodeId,
          details: event.details,
          seq,
          prevHash,
          hash: last,
        };
      });
    },
  };
}

/** `new Date(ms).toISOString()`, with the text of the last second reused: consecutive events share it. Per caller, not shared. */
export function createIsoTime(): (ms: number) => string {
  let isoSecond = Number.NaN;
  let isoPrefix = '';
  return (ms) => {
    if (!Number.isInteger(ms)) return new Date(ms).toISOString();
    const milli = ((ms % 1000) + 1000) % 1000;
    const second = (ms - milli) / 1000;
    if (second === isoSecond) return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
    const full = new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = full.slice(0, -4);
    return full;
  };
}

export function rowToEvent(row: AuditEventRow): ChainedEvent {
  return {
    seq: row.seq,
    id: row.event_id,
    timeMs: row.time_ms,
    actorKind: row.actor_kind as ChainedEvent['actorKind'],
    actorId: row.actor_id,
    actorName: row.actor_name,
    action: row.action,
    targetKind: row.target_kind,
    targetId: row.target_id,
    outcome: row.outcome as ChainedEvent['outcome'],
    sourceIp: row.source_ip,
    userAgent: row.user_agent,
    requestId: row.request_id,
    nodeId: row.node_id,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function toView(event: ChainedEvent): AuditEventView {
  return {
    seq: event.seq,
    id: event.id,
    time: new Date(event.timeMs).toISOString(),
    actor: { kind: event.actorKind, id: event.actorId, name: event.actorName },
    action: event.action,
    target: event.targetKind === null ? null : { kind: event.targetKind, id: event.targetId ?? '' },
    outcome: event.outcome,
    sourceIp: event.sourceIp,
    userAgent: event.userAgent,
    requestId: event.requestId,
    nodeId: event.nodeId,
    details: JSON.parse(event.details) as Record<string, unknown>,
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

/** Inverse of {@link toView}, for verifying an export offline. */
export function fromView(view: AuditEventView, canonicalDetails: string): ChainedEvent {
  return {
    seq: view.seq,
    id: view.id,
    timeMs: Date.parse(view.time),
    actorKind: view.actor.kind as ChainedEvent['actorKind'],
    actorId: view.actor.id,
    actorName: view.actor.name,
    action: view.action,
    targetKind: view.target?.kind ?? null,
    targetId: view.target?.id ?? null,
    outcome: view.outcome as ChainedEvent['outcome'],
    sourceIp: view.sourceIp,
    userAgent: view.userAgent,
    requestId: view.requestId,
    nodeId: view.nodeId,
    details: canonicalDetails,
    prevHash: view.prevHash,
    hash: view.hash,
  };
}

const str = (value: string): string => JSON.stringify(value);
const opt = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));
