import type { Clock } from '../core/index.js';
import type { Actor } from './event.js';
import type { AuditReader } from './reader.js';
import type { AuditService, CallContext } from './service.js';
import type { AuditTrail } from './trail.js';

/** A verification of the whole chain running on this node now. */
export interface VerificationRun {
  startedAtMs: number;
  by: Actor;
}

/** The newest verification any node or the CLI recorded (`audit.verified`), read back from the trail. */
export interface VerificationReport {
  ok: boolean;
  /** When it finished: the time of its `audit.verified` event. */
  checkedAtMs: number;
  by: Actor;
  /** The `audit.verified` event that holds it. */
  eventSeq: number;
  fromSeq: number;
  /** The last event checked. */
  throughSeq: number | null;
  events: number;
  checkpoints: number;
  lastCheckpoint: { seq: number; timeMs: number } | null;
  failure: { seq: number; reason: string } | null;
}

export interface VerificationStatus {
  running: VerificationRun | null;
  last: VerificationReport | null;
}

/**
 * Chain verification on demand (the auditor's desk): one walk at a time per
 * node, and a caller who asks while one runs joins it. The result is the
 * `audit.verified` event the service records, so every node, and the CLI's
 * `webasset audit verify`, report the same last verification.
 */
export interface ChainVerification {
  /** The run of this node, if any, and the last recorded result. Reading it is audited (`audit.read`). */
  status(actor: Actor, context?: CallContext): Promise<VerificationStatus>;
  /** Starts a verification of the whole trail in the background, or joins the one running; returns at once. */
  start(actor: Actor, context?: CallContext): { started: boolean; running: VerificationRun };
  /** Stops a run in progress (shutdown) and waits for it to let go of the database. */
  close(): Promise<void>;
}

export interface ChainVerificationDeps {
  service: Pick<AuditService, 'verify'>;
  reader: AuditReader;
  trail: AuditTrail;
  clock: Clock;
  /** A run that failed without a verdict (database gone, trail closed): nothing was recorded, so it is logged. */
  onError(error: unknown): void;
}

export function createChainVerification(deps: ChainVerificationDeps): ChainVerification {
  let current: { run: VerificationRun; done: Promise<void>; abort: AbortController } | null = null;

  async function lastReport(): Promise<VerificationReport | null> {
    const page = await deps.reader.search({ actionPrefix: 'audit.verified' }, { limit: 1, order: 'desc' });
    const event = page.events[0];
    if (!event) return null;
    return reportOf(event.seq, event.timeMs, { kind: event.actorKind, id: event.actorId, name: event.actorName }, event.outcome === 'success', event.details);
  }

  return {
    async status(actor, context = {}) {
      // Taken before the trail is read: a run that ends meanwhile is then still shown running (the caller
      // asks again), never gone with the result before it.
      const running = current?.run ?? null;
      const last = await lastReport();
      // Recorded before anything is answered; refused if it cannot be written (fail closed).
      await deps.trail.record({
        actor,
        action: 'audit.read',
        outcome: 'success',
        details: { what: 'verification', filters: { action: 'audit.verified' }, returned: last ? 1 : 0 },
        ...context,
      });
      return { running, last };
    },

    start(actor, context = {}) {
      if (current) return { started: false, running: current.run };
      const abort = new AbortController();
      const run: VerificationRun = { startedAtMs: deps.clock.now(), by: actor };
      const done = deps.service
        .verify(actor, { signal: abort.signal, context })
        .then(
          () => undefined,
          (error: unknown) => {
            if (!abort.signal.aborted) deps.onError(error);
          },
        )
        .finally(() => {
          current = null;
        });
      current = { run, done, abort };
      return { started: true, running: run };
    },

    async close() {
      const running = current;
      if (!running) return;
      running.abort.abort();
      await running.done;
    },
  };
}

function reportOf(eventSeq: number, timeMs: number, by: Actor, ok: boolean, detailsText: string): VerificationReport {
  const d = parseDetails(detailsText);
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
  const cp = d.lastCheckpoint as { seq?: unknown; timeMs?: unknown } | null | undefined;
  const cpSeq = num(cp?.seq);
  const cpTime = num(cp?.timeMs);
  const brokenAt = num(d.brokenAt);
  return {
    ok,
    checkedAtMs: timeMs,
    by,
    eventSeq,
    fromSeq: num(d.fromSeq) ?? 1,
    throughSeq: num(d.lastSeq),
    events: num(d.events) ?? 0,
    checkpoints: num(d.checkpoints) ?? 0,
    lastCheckpoint: cpSeq !== null && cpTime !== null ? { seq: cpSeq, timeMs: cpTime } : null,
    failure: ok ? null : { seq: brokenAt ?? 0, reason: typeof d.reason === 'string' ? d.reason : 'the verification failed' },
  };
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
