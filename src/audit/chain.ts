import { createHash, hash as digestOnce } from 'node:crypto';
import type { AuditEventRow } from '../store/index.js';
import type { AuditEventView, ChainedEvent, PreparedEvent } from './event.js';

/**
 * The exact text that is hashed for one event: canonical JSON (keys sorted,
 * no whitespace) of the event with its sequence number, where `details` is
 * the stored canonical text verbatim. Written out by hand because it runs
 * once per event on the write path and during verification; a test checks
 * it equals `canonicalJson()` of the same object.
 */
export function canonicalEventText(event: PreparedEvent, seq: number): string {
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
    `,"time":"${isoTime(event.timeMs)}"` +
    `,"userAgent":${opt(event.userAgent)}}`
  );
}

/** Reused by {@link chainHash}; safe because hashing is synchronous. */
const scratch = Buffer.allocUnsafe(256 * 1024);

/** hash = SHA-256(previous hash bytes ‖ UTF-8 of the canonical event text), hex. */
export function chainHash(prevHash: string, canonicalText: string): string {
  // Fast path: both parts written into one reused buffer and hashed in one call, which halves the
  // cost per event (verification is mostly this). A UTF-16 unit takes at most 3 UTF-8 bytes.
  if (prevHash.length === 64 && canonicalText.length * 3 <= scratch.length - 32) {
    if (scratch.write(prevHash, 0, 32, 'hex') === 32) {
      const end = 32 + scratch.write(canonicalText, 32, 'utf8');
      return digestOnce('sha256', scratch.subarray(0, end), 'hex');
    }
  }
  return createHash('sha256').update(Buffer.from(prevHash, 'hex')).update(canonicalText, 'utf8').digest('hex');
}

let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, with the part up to the seconds reused while
 * events fall in the same second (they mostly do, on both the write path and
 * verification). Only whole milliseconds take the shortcut.
 */
function isoTime(ms: number): string {
  if (Number.isInteger(ms)) {
    const milli = ((ms % 1000) + 1000) % 1000;
    const second = (ms - milli) / 1000;
    if (second === isoSecond) return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
    const full = new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = full.slice(0, -4);
    return full;
  }
  return new Date(ms).toISOString();
}

/** Gives prepared events their place after `head`, in order. */
export function linkEvents(head: { seq: number; hash: string }, events: readonly PreparedEvent[]): ChainedEvent[] {
  let { seq, hash } = head;
  return events.map((event) => {
    seq += 1;
    const prevHash = hash;
    hash = chainHash(prevHash, canonicalEventText(event, seq));
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
      hash,
    };
  });
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
