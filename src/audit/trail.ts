import type { Logger } from 'pino';
import { AppError, type Clock, type IdGenerator, type Redactor } from '../core/index.js';
import { isConnectionError } from '../store/index.js';
import type { ChainStore } from './chain-store.js';
import type { AuditEventInput, PreparedEvent, RecordReceipt } from './event.js';
import { prepareEvent } from './prepare.js';
import type { AuditSpool } from './spool.js';

export type AuditTrailState = 'ok' | 'spooling' | 'closed';

export interface AuditTrailStatus {
  state: AuditTrailState;
  /** Bytes waiting in the local spool. */
  spoolBytes: number;
  /** Why the trail is spooling, when it is. */
  reason: string | null;
}

/** The one way to write an audit event. */
export interface AuditTrail {
  /**
   * Resolves once the event is durable: committed to the database, or
   * fsync'ed to the local spool while the database is unreachable. Rejects
   * with `audit_unavailable` when neither worked: the caller must refuse the
   * action. Rejects with `audit_event_invalid` for a malformed event.
   */
  record(event: AuditEventInput): Promise<RecordReceipt>;
  /** Drains a spool left by an earlier run and starts the checkpoint timer. */
  start(): Promise<void>;
  /** Resolves when everything recorded so far is settled. */
  flush(): Promise<void>;
  /** Signs a checkpoint now if there are new events (also done on a timer and every N events). */
  checkpoint(): Promise<void>;
  status(): AuditTrailStatus;
  /** Stops accepting, settles what is queued, writes a last checkpoint. */
  close(): Promise<void>;
}

export interface AuditTrailDeps {
  store: ChainStore;
  spool: AuditSpool;
  clock: Clock;
  ids: IdGenerator;
  redactor: Redactor;
  logger: Logger;
  nodeId: string;
  /** Most events per group-commit transaction. */
  batchMax: number;
  checkpointSeconds: number;
  /** First retry delay while spooling; doubles up to `retryMaxMs`. */
  retryMs?: number;
  retryMaxMs?: number;
}

interface Pending {
  event: PreparedEvent;
  resolve: (receipt: RecordReceipt) => void;
  reject: (error: unknown) => void;
}

export function createAuditTrail(deps: AuditTrailDeps): AuditTrail {
  const { store, spool, logger, batchMax } = deps;
  const retryMin = deps.retryMs ?? 250;
  const retryMax = deps.retryMaxMs ?? 5_000;
  const queue: Pending[] = [];
  const idleWaiters: Array<() => void> = [];
  let state: AuditTrailState = 'ok';
  let reason: string | null = null;
  let spoolBytes = 0;
  let drainOffset = 0;
  let drained = 0;
  let drainDue = false;
  let retryDelay = retryMin;
  let retryTimer: NodeJS.Timeout | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  let checkpointDue = false;
  let pumping: Promise<void> | undefined;

  function kick(): void {
    pumping ??= pump().finally(() => {
      pumping = undefined;
      if (queue.length > 0 || drainDue || checkpointDue) kick();
      else for (const wake of idleWaiters.splice(0)) wake();
    });
  }

  /** The single writer loop: every database or spool write happens here, one at a time, in order. */
  async function pump(): Promise<void> {
    for (;;) {
      if (spooling() && drainDue) {
        drainDue = false;
        await drainStep();
      } else if (queue.length > 0) {
        await writeBatch(queue.splice(0, batchMax));
      } else if (checkpointDue) {
        checkpointDue = false;
        if (!spooling()) await checkpointSafely();
      } else return;
    }
  }

  const spooling = (): boolean => state === 'spooling' || (state === 'closed' && spoolBytes > 0);

  async function writeBatch(batch: Pending[]): Promise<void> {
    const events = batch.map((p) => p.event);
    if (!spooling()) {
      try {
        const chained = await store.append(events);
        chained.forEach((e, i) => batch[i]!.resolve({ id: e.id, seq: e.seq, spooled: false }));
        return;
      } catch (error) {
        if (!isConnectionError(error)) {
          logger.error({ err: error }, 'audit trail: database refused a batch');
          for (const p of batch) p.reject(new AppError('audit_unavailable', { detail: 'database refused the batch', cause: error }));
          return;
        }
        // The commit's outcome is unknown: the spool drain skips ids already stored.
        enterSpooling(error);
      }
    }
    try {
      await spool.append(events);
      spoolBytes = await spool.size();
      for (const p of batch) p.resolve({ id: p.event.id, seq: null, spooled: true });
    } catch (error) {
      logger.error({ err: error, spool: spool.path }, 'audit trail: neither the database nor the spool can take events');
      for (const p of batch) p.reject(new AppError('audit_unavailable', { detail: 'database unreachable and spool not writable', cause: error }));
    }
  }

  function enterSpooling(error: unknown): void {
    if (state === 'ok') {
      state = 'spooling';
      reason = 'database unreachable';
      logger.warn({ err: error, spool: spool.path }, 'audit trail: database unreachable, events go to the local spool');
    }
    scheduleRetry();
  }

  function scheduleRetry(): void {
    if (retryTimer || state === 'closed') return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      drainDue = true;
      kick();
    }, retryDelay);
    retryTimer.unref();
    retryDelay = Math.min(retryDelay * 2, retryMax);
  }

  /** Moves one batch from the spool into the database, in order; returns to direct writes when empty. */
  async function drainStep(): Promise<void> {
    try {
      const { events, next } = await spool.read(drainOffset, batchMax);
      if (events.length > 0) {
        const stored = await store.append(events, { skipExisting: true });
        drainOffset = next;
        drained += stored.length;
        drainDue = true;
        return;
      }
      await spool.clear();
      await spool.close();
      logger.info({ events: drained }, 'audit trail: spool drained into the database');
      const count = drained;
      drainOffset = 0;
      drained = 0;
      spoolBytes = 0;
      retryDelay = retryMin;
      if (state === 'spooling') {
        state = 'ok';
        reason = null;
      }
      if (count > 0) {
        queue.unshift(...makeInternal({ action: 'audit.spool.drained', outcome: 'success', details: { events: count } }));
      }
    } catch (error) {
      if (!isConnectionError(error)) logger.error({ err: error }, 'audit trail: spool drain failed');
      reason = isConnectionError(error) ? 'database unreachable' : 'spool drain failed';
      scheduleRetry();
    }
  }

  function makeInternal(input: Omit<AuditEventInput, 'actor'>): Pending[] {
    const event = prepareEvent({ ...input, actor: { kind: 'system', id: deps.nodeId, name: 'webasset' } }, deps);
    return [{ event, resolve: () => {}, reject: (error) => logger.error({ err: error }, 'audit trail: internal event lost') }];
  }

  async function checkpointSafely(): Promise<void> {
    try {
      await store.checkpoint();
    } catch (error) {
      if (isConnectionError(error)) enterSpooling(error);
      else logger.error({ err: error }, 'audit trail: checkpoint failed');
    }
  }

  return {
    record(input) {
      if (state === 'closed') {
        return Promise.reject(new AppError('audit_unavailable', { publicMessage: 'The server is shutting down; the action was refused.' }));
      }
      let event: PreparedEvent;
      try {
        event = prepareEvent(input, deps);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<RecordReceipt>((resolve, reject) => {
        queue.push({ event, resolve, reject });
        kick();
      });
    },

    async start() {
      try {
        spoolBytes = await spool.size();
      } catch (error) {
        throw new AppError('audit_unavailable', { detail: `cannot read the audit spool at ${spool.path}`, cause: error });
      }
      if (spoolBytes > 0) {
        state = 'spooling';
        reason = 'draining the spool of an earlier run';
        logger.warn({ spool: spool.path, bytes: spoolBytes }, 'audit trail: found events spooled by an earlier run; draining');
        drainDue = true;
        kick();
      }
      checkpointTimer = setInterval(() => {
        checkpointDue = true;
        kick();
      }, deps.checkpointSeconds * 1000);
      checkpointTimer.unref();
    },

    flush() {
      if (!pumping && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },

    async checkpoint() {
      checkpointDue = true;
      kick();
      await this.flush();
    },

    status: () => ({ state, spoolBytes, reason }),

    async close() {
      if (state === 'closed') return;
      const wasSpooling = state === 'spooling';
      state = 'closed';
      clearInterval(checkpointTimer);
      clearTimeout(retryTimer);
      retryTimer = undefined;
      drainDue = false;
      await this.flush();
      if (!wasSpooling) {
        checkpointDue = true;
        kick();
        await this.flush();
      }
      await spool.close();
    },
  };
}
