import { z } from 'zod';
import { AppError, canonicalJson, type Clock, type IdGenerator, type Redactor } from '../core/index.js';
import { isAuditAction } from './actions.js';
import { ACTOR_KINDS, OUTCOMES, type AuditEventInput, type PreparedEvent } from './event.js';

/** Largest canonical `details` text accepted; an audit event is a record, not a file store. */
export const MAX_DETAILS_BYTES = 32 * 1024;

const text = (max: number) => z.string().min(1).max(max);
const optionalText = z.string().nullish();

const inputSchema = z.object({
  actor: z.object({ kind: z.enum(ACTOR_KINDS), id: text(256), name: z.string().max(256).nullish() }),
  action: z.string().refine(isAuditAction, 'unknown audit action'),
  outcome: z.enum(OUTCOMES),
  target: z.object({ kind: text(64), id: text(512) }).nullish(),
  sourceIp: optionalText,
  userAgent: optionalText,
  requestId: optionalText,
  details: z.record(z.string(), z.unknown()).optional(),
});

export interface PrepareDeps {
  clock: Clock;
  ids: IdGenerator;
  redactor: Redactor;
  nodeId: string;
}

/**
 * Validates a caller's event, redacts it and fixes its text form. After this
 * step the event is exactly what will be hashed and stored: nothing later
 * may change it. A malformed event is a bug in the caller: `audit_event_invalid`.
 */
export function prepareEvent(input: AuditEventInput, deps: PrepareDeps): PreparedEvent {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.') || '(event)');
    throw new AppError('audit_event_invalid', { detail: `invalid audit event: ${fields.join(', ')}` });
  }
  const e = parsed.data;
  const r = deps.redactor;
  const clean = (value: string | null | undefined, max: number): string | null =>
    // Cut before sanitizing: a cut inside a surrogate pair leaves a lone surrogate that sanitize must see.
    value === null || value === undefined || value === '' ? null : sanitize(r.redactText(value).slice(0, max));

  let details: string;
  try {
    details = canonicalJson(sanitizeDeep(r.redactValue(e.details ?? {})));
  } catch (error) {
    throw new AppError('audit_event_invalid', { detail: `details are not JSON: ${(error as Error).message}`, cause: error });
  }
  if (Buffer.byteLength(details) > MAX_DETAILS_BYTES) {
    throw new AppError('audit_event_invalid', { detail: `details exceed ${MAX_DETAILS_BYTES} bytes` });
  }
  return {
    id: deps.ids.uuid(),
    timeMs: deps.clock.now(),
    actorKind: e.actor.kind,
    actorId: sanitize(r.redactText(e.actor.id)),
    actorName: clean(e.actor.name, 256),
    action: e.action,
    targetKind: e.target ? sanitize(r.redactText(e.target.kind)) : null,
    targetId: e.target ? sanitize(r.redactText(e.target.id)) : null,
    outcome: e.outcome,
    sourceIp: clean(e.sourceIp, 64),
    userAgent: clean(e.userAgent, 512),
    requestId: clean(e.requestId, 128),
    nodeId: deps.nodeId,
    details,
  };
}

/**
 * PostgreSQL text cannot hold NUL, and a lone surrogate would be stored as
 * U+FFFD; either would make the stored event differ from the hashed one.
 */
function sanitize(value: string): string {
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

function sanitizeDeep(value: unknown): unknown {
  if (typeof value === 'string') return sanitize(value);
  if (Array.isArray(value)) return value.map((v: unknown) => (v === undefined ? null : sanitizeDeep(v)));
  if (value !== null && typeof value === 'object') {
    // Plain data only: the redactor does not walk class instances, so one could carry a secret past it.
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new TypeError('details must be plain JSON data');
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return Object.fromEntries(entries.map(([k, v]) => [sanitize(k), sanitizeDeep(v)]));
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  // undefined, functions, bigints, symbols have no JSON form.
  throw new TypeError(`unsupported value of type ${typeof value}`);
}
