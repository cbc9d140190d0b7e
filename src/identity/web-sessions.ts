import { hash } from 'node:crypto';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { Actor, AuditTrail } from '../audit/index.js';
import type { Principal } from './principal.js';
import type { SessionRecord, SessionStore, SessionUser } from './session-store.js';

/** The request facts a session event carries (the same shape as access's RequestContext). */
export interface SessionContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export interface ResolvedSession {
  principal: Principal;
  csrfToken: string;
  /** The user's roles or groups changed since the last request: give the session a new id now ({@link WebSessions.rotate}). */
  rotate: boolean;
}

export interface SessionSummary {
  sessionId: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  method: string;
  mfa: boolean;
  sourceIp: string | null;
}

/** Server-side web sessions: the browser holds only a random 256-bit value; everything else stays here. */
export interface WebSessions {
  /** New session (new random id; 256-bit). Returns the cookie value once. */
  create(input: {
    user: SessionUser;
    mfa: boolean;
    method: 'password' | 'oidc';
    oidc?: { idTokenHint?: string; sid?: string };
    context: SessionContext;
  }): Promise<{ cookieValue: string; sessionId: string; csrfToken: string }>;
  /** Principal for a cookie value (checks idle + absolute timeout, touches last-seen), or null. */
  resolve(cookieValue: string): Promise<ResolvedSession | null>;
  /**
   * `resolve`'s answer when the per-node cache alone can give it, with no
   * store read or write (nor an end to record); 'miss' otherwise. A node
   * short of CPU sheds the checks that would read the store and still
   * answers the ones it can from memory.
   *
   * The answer is frozen and the same object for as long as the cache holds
   * the same record (every write replaces the record, on every node), so a
   * caller may keep what it derives from it keyed by its identity (a WeakMap).
   */
  resolveCached(cookieValue: string): ResolvedSession | null | 'miss';
  /**
   * Privilege change: same session content under a new id and a new CSRF
   * token (one read under the old privileges does not carry over to the new
   * ones); the old cookie stops working. Rejects `unauthenticated` when the
   * session is gone.
   */
  rotate(cookieValue: string, changes?: { mfa?: boolean; user?: SessionUser }): Promise<{ cookieValue: string; csrfToken: string }>;
  revoke(sessionId: string, by: Principal | null, reason: string): Promise<boolean>;
  /** Logout everywhere / admin revocation / user disabled: every session of the user ends, on every node, at once. */
  revokeAllForUser(userId: string, by: Principal | null, reason: string): Promise<number>;
  /** Membership or role change: update the principal snapshot in the user's live sessions (rotation happens at their next request). */
  refreshUser(user: SessionUser): Promise<void>;
  /**
   * The principal of a live session as it is now (snapshot refreshed by {@link refreshUser}), by its public id; null
   * when it has ended, was revoked or has timed out. No rotation and no end recorded, so a long-lived connection (the
   * live view) can follow its session without moving its cookie. It writes only with `active` (the person did something
   * through that connection): then, like a request with the cookie, it moves last-seen on when a touch is due, so
   * someone working in the live view is not signed out for idleness.
   */
  current(sessionId: string, options?: { active?: boolean }): Promise<Principal | null>;
  listForUser(userId: string): Promise<SessionSummary[]>;
  /** The OIDC facts kept for RP-initiated logout, for a session id (null when gone or not from OIDC). */
  oidcOf(sessionId: string): Promise<{ idTokenHint?: string | undefined; sid?: string | undefined } | null>;
  close(): Promise<void>;
}

export interface WebSessionsDeps {
  store: SessionStore;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  /** Idle timeout (default 15 min). */
  idleMs?: number;
  /** Absolute lifetime (default 12 h). */
  absoluteMs?: number;
  /** How often the expired-record sweep runs (default 60 s); 0 turns it off (tests sweep by hand). */
  sweepIntervalMs?: number;
  /** The actor that timeouts are recorded under. */
  systemActor?: Actor;
  onError?: (error: unknown) => void;
}

/** Recognizable, so secret scanners and people can tell what leaked. */
export const SESSION_VALUE_PREFIX = 'wss_';
const SESSION_VALUE_SHAPE = /^wss_[A-Za-z0-9_-]{43}$/;
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MINUTE_MS = 60_000;
const RACE_RETRIES = 5;
const LAST_FOUND_LIMIT = 10_000;

export type SessionEndReason = 'idle_timeout' | 'absolute_timeout';

export function createWebSessions(deps: WebSessionsDeps): WebSessions & { sweep(): Promise<number> } {
  const { store, trail, clock, ids } = deps;
  if (typeof store?.get !== 'function') throw new TypeError('createWebSessions: a session store is required');
  if (typeof trail?.record !== 'function') throw new TypeError('createWebSessions: an audit trail is required');
  if (typeof clock?.now !== 'function' || typeof ids?.token !== 'function') throw new TypeError('createWebSessions: a clock and ids are required');
  const idleMs = deps.idleMs ?? 15 * MINUTE_MS;
  const absoluteMs = deps.absoluteMs ?? 12 * 60 * MINUTE_MS;
  for (const [name, value] of [['idleMs', idleMs], ['absoluteMs', absoluteMs]] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`createWebSessions: ${name} must be a positive integer`);
  }
  // Writing last-seen on every request would cost a write per request; within a minute is precise enough for a 15-minute idle rule.
  const touchEveryMs = Math.min(MINUTE_MS, Math.floor(idleMs / 10));
  /**
   * The last-seen write under way for a session (by id hash). Once a touch is due, every check of that
   * session misses the cache until it is written; a busy session (a ForwardAuth proxy sends thousands of
   * checks a second) would otherwise write once per check that arrives meanwhile, and each write drops
   * the cache entry again: a storm of writes that stalled checks for tens of milliseconds once a minute.
   * Those checks now wait for the one write. A check whose read began before the write and ends after it
   * still holds the old last-seen time, so a finished write is remembered too (by the time it wrote), for
   * one to two touch intervals: two generations, the older dropped whole, so no session leaves an entry behind.
   */
  type Touch = { at: number; written: Promise<boolean> };
  let touches = new Map<string, Touch>();
  let olderTouches = new Map<string, Touch>();
  let touchesSince = clock.now();
  /** Moves last-seen on when it is due (one write per session and interval, shared by concurrent callers); false when the session is gone. */
  const touchIfDue = async (idHash: string, record: SessionRecord, now: number): Promise<boolean> => {
    if (now - record.lastSeenAt < touchEveryMs) return true;
    let touch = touchOf(idHash, now);
    // A touch at or before the time read is older than the record: this one is due anew.
    if (touch === undefined || touch.at <= record.lastSeenAt) {
      const touched = { ...record, lastSeenAt: now };
      touch = { at: now, written: store.update(idHash, touched, expiresAt(touched)) };
      touches.set(idHash, touch);
      // A failed write is not remembered: the next check tries again rather than failing for minutes.
      const failed = touch;
      failed.written.catch(() => {
        if (touches.get(idHash) === failed) touches.delete(idHash);
        if (olderTouches.get(idHash) === failed) olderTouches.delete(idHash);
      });
    }
    return touch.written;
  };

  const touchOf = (idHash: string, now: number) => {
    if (now - touchesSince >= touchEveryMs) {
      olderTouches = now - touchesSince >= 2 * touchEveryMs ? new Map<string, Touch>() : touches;
      touches = new Map<string, Touch>();
      touchesSince = now;
    }
    return touches.get(idHash) ?? olderTouches.get(idHash);
  };
  /**
   * Where current() last found a session (session id → id hash): asked again, it reads that key (the store's primary key,
   * and the per-node cache's) instead of searching by session id, which the database answers by scanning every session.
   * A key that no longer holds the session (rotated, revoked) falls back to the search. Bounded; the oldest go first.
   */
  const lastFound = new Map<string, string>();
  const systemActor: Actor = deps.systemActor ?? { kind: 'system', id: 'webasset', name: 'webasset' };
  const onError = deps.onError ?? (() => undefined);

  // The one-shot hash: half the cost of a Hash object, on the path of every ForwardAuth check.
  const hashOf = (cookieValue: string) => hash('sha256', cookieValue, 'hex');
  const newCookieValue = () => `${SESSION_VALUE_PREFIX}${ids.token(32)}`;
  const userActor = (user: SessionUser): Actor => ({ kind: user.kind === 'service' ? 'agent' : 'user', id: user.id, name: user.username });
  const actorOf = (by: Principal | null): Actor => (by ? { kind: by.kind, id: by.id, name: by.name } : systemActor);
  const target = (record: SessionRecord) => ({ kind: 'web_session', id: record.sessionId });
  // The lifetime in force now also applies to older sessions, so lowering it takes effect at once.
  const absoluteEnd = (record: SessionRecord) => Math.min(record.absoluteExpiresAt, record.createdAt + absoluteMs);
  const endReason = (record: SessionRecord, now: number): SessionEndReason | null =>
    now >= absoluteEnd(record) ? 'absolute_timeout' : now - record.lastSeenAt >= idleMs ? 'idle_timeout' : null;
  /** When the record may be dropped: the earlier of its idle and absolute ends. */
  const expiresAt = (record: SessionRecord) => Math.min(absoluteEnd(record), record.lastSeenAt + idleMs);

  const principalOf = (record: SessionRecord): Principal => ({
    kind: record.user.kind === 'service' ? 'agent' : 'user',
    id: record.user.id,
    name: record.user.name,
    username: record.user.username,
    email: record.user.email,
    roles: [...record.user.roles],
    groups: record.user.groups.map((g) => ({ id: g.id, name: g.name })),
    via: 'session',
    mfa: record.mfa,
    sessionId: record.sessionId,
  });

  // A cached record is immutable and replaced by every write (here and, through the published invalidation, on every
  // node), so its answer is built once and lives exactly as long as the cache entry.
  const cachedAnswers = new WeakMap<SessionRecord, ResolvedSession>();
  const cachedAnswer = (record: SessionRecord): ResolvedSession => {
    let answer = cachedAnswers.get(record);
    if (answer === undefined) {
      const principal = principalOf(record);
      Object.freeze(principal.roles);
      for (const group of principal.groups) Object.freeze(group);
      Object.freeze(principal.groups);
      answer = Object.freeze({ principal: Object.freeze(principal), csrfToken: record.csrfToken, rotate: record.rotatePending === true });
      cachedAnswers.set(record, answer);
    }
    return answer;
  };

  /** Recorded by whoever removed the record, so each end is in the trail once, whichever node saw it. */
  const endExpired = async (idHash: string | null, record: SessionRecord, reason: SessionEndReason): Promise<void> => {
    const removed = idHash === null ? record : await store.remove(idHash);
    if (!removed) return;
    await trail.record({
      actor: systemActor,
      action: 'session.ended',
      outcome: 'success',
      target: target(removed),
      details: { reason, userId: removed.userId, method: removed.method },
    });
  };

  /** The live record for a cookie value, ending it first when it has timed out. */
  const live = async (cookieValue: string): Promise<{ idHash: string; record: SessionRecord } | null> => {
    if (typeof cookieValue !== 'string' || !SESSION_VALUE_SHAPE.test(cookieValue)) return null;
    const idHash = hashOf(cookieValue);
    const record = await store.get(idHash);
    if (!record) return null;
    const reason = endReason(record, clock.now());
    if (reason) {
      await endExpired(idHash, record, reason);
      return null;
    }
    return { idHash, record };
  };

  /** Owner ending their own session: `session.ended`; anyone else (an administrator, the system): `session.revoked`. */
  const recordRevocation = async (record: SessionRecord, by: Principal | null, reason: string): Promise<void> => {
    const own = by !== null && by.id === record.userId;
    await trail.record({
      actor: actorOf(by),
      action: own ? 'session.ended' : 'session.revoked',
      outcome: 'success',
      target: target(record),
      details: { reason, userId: record.userId, method: record.method },
    });
  };

  const sweep = async (): Promise<number> => {
    const removed = await store.sweep(clock.now());
    for (const record of removed) {
      await endExpired(null, record, endReason(record, clock.now()) ?? 'idle_timeout');
    }
    return removed.length;
  };
  let sweeping: Promise<unknown> | undefined;
  const sweepIntervalMs = deps.sweepIntervalMs ?? MINUTE_MS;
  const sweeper =
    sweepIntervalMs > 0
      ? setInterval(() => {
          sweeping ??= sweep()
            .catch(onError)
            .finally(() => (sweeping = undefined));
        }, sweepIntervalMs)
      : undefined;
  sweeper?.unref();

  return {
    async create({ user, mfa, method, oidc, context }) {
      checkUser(user);
      if (method !== 'password' && method !== 'oidc') throw new TypeError('web sessions: method must be password or oidc');
      const now = clock.now();
      const cookieValue = newCookieValue();
      const record: SessionRecord = {
        sessionId: ids.uuid(),
        userId: user.id,
        user: snapshot(user),
        mfa: mfa === true,
        method,
        oidc: oidc && method === 'oidc' ? { idTokenHint: oidc.idTokenHint, sid: oidc.sid } : undefined,
        csrfToken: ids.token(32),
        createdAt: now,
        lastSeenAt: now,
        absoluteExpiresAt: now + absoluteMs,
        sourceIp: context.sourceIp ?? null,
        userAgent: context.userAgent?.slice(0, 256) ?? null,
      };
      // Fail closed: a session whose start cannot be recorded does not exist.
      await trail.record({
        actor: userActor(user),
        action: 'session.created',
        outcome: 'success',
        target: target(record),
        details: { method, mfa: record.mfa },
        sourceIp: context.sourceIp,
        userAgent: context.userAgent,
        requestId: context.requestId,
      });
      await store.insert(hashOf(cookieValue), record, expiresAt(record));
      return { cookieValue, sessionId: record.sessionId, csrfToken: record.csrfToken };
    },

    resolveCached(cookieValue) {
      if (typeof cookieValue !== 'string' || !SESSION_VALUE_SHAPE.test(cookieValue)) return null;
      const record = store.peek?.(hashOf(cookieValue));
      if (record === undefined) return 'miss';
      const now = clock.now();
      // An ended session is recorded by resolve(); a due last-seen touch is a store write.
      if (endReason(record, now) !== null || now - record.lastSeenAt >= touchEveryMs) return 'miss';
      return cachedAnswer(record);
    },

    async resolve(cookieValue) {
      const found = await live(cookieValue);
      if (!found) return null;
      const { idHash, record } = found;
      const now = clock.now();
      // Gone meanwhile (revoked on another node): refused like any unknown session.
      if (!(await touchIfDue(idHash, record, now))) return null;
      return { principal: principalOf(record), csrfToken: record.csrfToken, rotate: record.rotatePending === true };
    },

    async rotate(cookieValue, changes = {}) {
      const found = await live(cookieValue);
      if (!found) throw new AppError('unauthenticated', { publicMessage: 'The session has ended; sign in again.' });
      const { idHash, record } = found;
      if (changes.user) {
        checkUser(changes.user);
        if (changes.user.id !== record.userId) throw new TypeError('web sessions: rotate cannot change whose session it is');
      }
      const next: SessionRecord = {
        ...record,
        user: changes.user ? snapshot(changes.user) : record.user,
        mfa: changes.mfa ?? record.mfa,
        csrfToken: ids.token(32),
        lastSeenAt: clock.now(),
        rotatePending: undefined,
      };
      await trail.record({
        actor: userActor(next.user),
        action: 'session.rotated',
        outcome: 'success',
        target: target(next),
        details: { mfa: next.mfa, mfaChanged: next.mfa !== record.mfa, userChanged: changes.user !== undefined || record.rotatePending === true },
      });
      const newValue = newCookieValue();
      if (!(await store.move(idHash, hashOf(newValue), next, expiresAt(next)))) {
        throw new AppError('unauthenticated', { publicMessage: 'The session has ended; sign in again.' });
      }
      return { cookieValue: newValue, csrfToken: next.csrfToken };
    },

    async revoke(sessionId, by, reason) {
      if (typeof sessionId !== 'string' || !UUID_SHAPE.test(sessionId)) return false;
      // A rotation on another node can move the session between finding and removing it: look again.
      let previous: string | undefined;
      for (let attempt = 0; attempt < RACE_RETRIES; attempt += 1) {
        const found = await store.findBySessionId(sessionId);
        if (!found || found.idHash === previous) return false;
        const removed = await store.remove(found.idHash);
        if (removed) {
          await recordRevocation(removed, by, reason);
          return true;
        }
        previous = found.idHash;
      }
      return false;
    },

    async revokeAllForUser(userId, by, reason) {
      if (typeof userId !== 'string' || !UUID_SHAPE.test(userId)) return 0;
      let count = 0;
      // Passes until none is left: a session rotating meanwhile reappears under its new id in the next pass.
      for (let pass = 0; pass < RACE_RETRIES; pass += 1) {
        const live = await store.listByUser(userId);
        if (live.length === 0) break;
        for (const { idHash } of live) {
          const removed = await store.remove(idHash);
          if (!removed) continue;
          count += 1;
          await recordRevocation(removed, by, reason);
        }
      }
      return count;
    },

    async refreshUser(user) {
      checkUser(user);
      for (const { idHash, record } of await store.listByUser(user.id)) {
        const next: SessionRecord = { ...record, user: snapshot(user), rotatePending: true };
        // A record revoked meanwhile stays revoked: update() never writes a missing one.
        await store.update(idHash, next, expiresAt(next));
      }
    },

    async current(sessionId, options = {}) {
      if (typeof sessionId !== 'string' || !UUID_SHAPE.test(sessionId)) return null;
      const hinted = lastFound.get(sessionId);
      let record = hinted === undefined ? null : await store.get(hinted);
      let idHash = hinted;
      if (record?.sessionId !== sessionId) {
        lastFound.delete(sessionId);
        const found = await store.findBySessionId(sessionId);
        record = found?.record ?? null;
        idHash = found?.idHash;
        if (found) {
          if (lastFound.size >= LAST_FOUND_LIMIT) lastFound.delete(lastFound.keys().next().value!);
          lastFound.set(sessionId, found.idHash);
        }
      }
      const now = clock.now();
      // A timed-out session is left for resolve() or the sweep to end and record.
      if (!record || idHash === undefined || endReason(record, now) !== null) return null;
      if (options.active === true && !(await touchIfDue(idHash, record, now))) return null;
      return principalOf(record);
    },

    async listForUser(userId) {
      if (typeof userId !== 'string' || !UUID_SHAPE.test(userId)) return [];
      const now = clock.now();
      return (await store.listByUser(userId))
        .filter(({ record }) => endReason(record, now) === null)
        .map(({ record }) => ({
          sessionId: record.sessionId,
          createdAt: new Date(record.createdAt).toISOString(),
          lastSeenAt: new Date(record.lastSeenAt).toISOString(),
          expiresAt: new Date(expiresAt(record)).toISOString(),
          method: record.method,
          mfa: record.mfa,
          sourceIp: record.sourceIp,
        }));
    },

    async oidcOf(sessionId) {
      if (typeof sessionId !== 'string' || !UUID_SHAPE.test(sessionId)) return null;
      const found = await store.findBySessionId(sessionId);
      return found?.record.oidc ?? null;
    },

    sweep,

    async close() {
      if (sweeper) clearInterval(sweeper);
      await sweeping;
    },
  };
}

function checkUser(user: SessionUser): void {
  if (typeof user?.id !== 'string' || !UUID_SHAPE.test(user.id)) throw new TypeError('web sessions: user.id must be a uuid');
  if (!Array.isArray(user.roles) || !Array.isArray(user.groups)) throw new TypeError('web sessions: user.roles and user.groups are required');
}

/** A plain copy with only the known fields, so nothing else a caller attached is stored. */
function snapshot(user: SessionUser): SessionUser {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    email: user.email ?? null,
    kind: user.kind === 'service' ? 'service' : 'person',
    roles: [...user.roles],
    groups: user.groups.map((g) => ({ id: g.id, name: g.name })),
  };
}
