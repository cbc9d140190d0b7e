import { expect, it } from 'vitest';
import type { Audit } from '../../src/audit/index.js';
import { randomIds } from '../../src/core/index.js';
import { createWebSessions, SESSION_VALUE_PREFIX, type Principal, type SessionStore, type SessionUser } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import type { FreshDatabase } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';
import { insertSessionUser } from '../support/session-user.js';

const MINUTE = 60_000;
const IDLE = 15 * MINUTE;
const ABSOLUTE = 12 * 60 * MINUTE;


/** One backend for one test; `store()` gives another node's view of the same backend. */
export interface SessionBackend {
  store(): SessionStore;
  /** True when expired records stay until swept (the database); false when the backend drops them itself. */
  sweeps: boolean;
  teardown(): Promise<void>;
}

const ADMIN: Principal = { kind: 'user', id: '00000000-0000-4000-8000-00000000a0a0', name: 'Admin', roles: ['admin'], groups: [], via: 'session', mfa: true };
const context = { sourceIp: '198.51.100.7', userAgent: 'suite', requestId: 'req-1' };

/**
 * The compliance suite of web sessions: every store (database, shared state
 * in-process, Redis) runs it unchanged, two WebSessions instances standing
 * for two nodes on the same backend.
 */
export function webSessionsSuite(fresh: FreshDatabase, setup: (clock: ManualClock) => Promise<SessionBackend>): void {
  async function open() {
    const clock = new ManualClock();
    const backend = await setup(clock);
    const audit: Audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    const node = () => createWebSessions({ store: backend.store(), trail: audit.trail, clock, ids: randomIds, idleMs: IDLE, absoluteMs: ABSOLUTE, sweepIntervalMs: 0 });
    const a = node();
    const b = node();
    fresh.defer(async () => {
      await a.close();
      await b.close();
      await audit.trail.close();
      await backend.teardown();
    });
    const user = await insertSessionUser(fresh.db.database.db, { roles: ['operator'] });
    const events = async (prefix = 'session.') => {
      await audit.trail.flush();
      const page = await audit.reader.search({ actionPrefix: prefix }, { limit: 500, order: 'asc' });
      return page.events.map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> }));
    };
    return { clock, a, b, user, events, audit, backend };
  }

  it('creates a 256-bit session, resolves it on every node, and records the start without the secrets', async () => {
    const { a, b, user, events } = await open();
    const created = await a.create({ user, mfa: true, method: 'password', context });
    expect(created.cookieValue).toMatch(new RegExp(`^${SESSION_VALUE_PREFIX}[A-Za-z0-9_-]{43}$`));
    expect(Buffer.from(created.cookieValue.slice(SESSION_VALUE_PREFIX.length), 'base64url')).toHaveLength(32);
    const resolved = await b.resolve(created.cookieValue);
    expect(resolved?.principal).toMatchObject({ kind: 'user', id: user.id, name: user.name, roles: ['operator'], via: 'session', mfa: true, sessionId: created.sessionId });
    expect(resolved?.csrfToken).toBe(created.csrfToken);
    expect(resolved?.rotate).toBe(false);
    const log = await events();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ action: 'session.created', actorId: user.id, targetKind: 'web_session', targetId: created.sessionId, sourceIp: context.sourceIp });
    const text = JSON.stringify(log);
    expect(text).not.toContain(created.cookieValue);
    expect(text).not.toContain(created.csrfToken);
  });

  it('gives every sign-in a new value and id, so nothing chosen beforehand is ever adopted', async () => {
    const { a, user } = await open();
    const first = await a.create({ user, mfa: false, method: 'password', context });
    const second = await a.create({ user, mfa: false, method: 'password', context });
    expect(second.cookieValue).not.toBe(first.cookieValue);
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(second.csrfToken).not.toBe(first.csrfToken);
    // A value an attacker planted is not a session, whatever its shape.
    expect(await a.resolve(`${SESSION_VALUE_PREFIX}${'A'.repeat(43)}`)).toBeNull();
  });

  it('refuses altered, truncated and foreign values', async () => {
    const { a, user } = await open();
    const { cookieValue } = await a.create({ user, mfa: false, method: 'password', context });
    const last = cookieValue.at(-1) === 'A' ? 'B' : 'A';
    for (const bad of [cookieValue.slice(0, -1) + last, cookieValue.slice(0, -1), `${cookieValue}x`, cookieValue.toUpperCase(), '', 'x'.repeat(5000), `wat_${cookieValue.slice(4)}`]) {
      expect(await a.resolve(bad)).toBeNull();
    }
    expect(await a.resolve(cookieValue)).not.toBeNull();
  });

  it('ends a session after the idle timeout, once, and keeps one that is used', async () => {
    const { a, b, clock, user, events, backend } = await open();
    const idle = await a.create({ user, mfa: false, method: 'password', context });
    const busy = await a.create({ user, mfa: false, method: 'password', context });
    for (let i = 0; i < 4; i += 1) {
      clock.advance(IDLE - MINUTE);
      expect(await a.resolve(busy.cookieValue)).not.toBeNull();
    }
    expect(await b.resolve(idle.cookieValue)).toBeNull();
    expect(await a.resolve(idle.cookieValue)).toBeNull();
    const ended = (await events('session.ended')).filter((e) => e.targetId === idle.sessionId);
    expectEndedOnce(ended, backend, { actorKind: 'system', details: { reason: 'idle_timeout', userId: user.id } });
  });

  it('writes a due last-seen touch once however many checks of the session arrive meanwhile, and keeps the session alive', async () => {
    const { clock, user, audit, backend } = await open();
    // The backend's own store, its updates counted on the way through (a ForwardAuth proxy's burst of checks).
    // Every other read is answered only after the first write is done: a check that read the record
    // before the write and finishes after it still holds the old last-seen time, and must not write again.
    const real = backend.store();
    let updates = 0;
    let reads = 0;
    let firstWritten: Promise<unknown> | undefined;
    const counted = new Proxy(real, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (key === 'update') {
          return (...args: Parameters<SessionStore['update']>) => {
            updates += 1;
            const written = target.update(...args);
            firstWritten ??= written;
            return written;
          };
        }
        if (key === 'get') {
          return async (...args: Parameters<SessionStore['get']>) => {
            const record = await target.get(...args);
            reads += 1;
            if (reads % 2 === 0) {
              while (firstWritten === undefined) await new Promise((resolve) => setImmediate(resolve));
              await firstWritten;
            }
            return record;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const node = createWebSessions({ store: counted, trail: audit.trail, clock, ids: randomIds, idleMs: IDLE, absoluteMs: ABSOLUTE, sweepIntervalMs: 0 });
    fresh.defer(() => node.close());
    const created = await node.create({ user, mfa: false, method: 'password', context });
    clock.advance(MINUTE);
    const answers = await Promise.all(Array.from({ length: 50 }, () => node.resolve(created.cookieValue)));
    expect(answers.every((answer) => answer?.principal.sessionId === created.sessionId)).toBe(true);
    expect(updates).toBe(1);
    // The touch was written: the session lives a whole idle period past it, not past its creation.
    clock.advance(IDLE - MINUTE / 2);
    expect(await node.resolve(created.cookieValue)).not.toBeNull();
    expect(updates).toBe(2);
  });

  it('ends a session at the absolute timeout however active it is', async () => {
    const { a, clock, user, events, backend } = await open();
    const s = await a.create({ user, mfa: false, method: 'password', context });
    const step = 10 * MINUTE;
    for (let t = step; t < ABSOLUTE; t += step) {
      clock.advance(step);
      expect(await a.resolve(s.cookieValue), `at ${t / MINUTE} min`).not.toBeNull();
    }
    clock.advance(step);
    expect(await a.resolve(s.cookieValue)).toBeNull();
    expectEndedOnce(await events('session.ended'), backend, { details: { reason: 'absolute_timeout' } });
  });

  it('rotates: a new value for the same session, the old value stops on every node, MFA and snapshot updated', async () => {
    const { a, b, user, events } = await open();
    const s = await a.create({ user, mfa: false, method: 'password', context });
    const promoted: SessionUser = { ...user, roles: ['operator', 'auditor'] };
    const { cookieValue, csrfToken } = await a.rotate(s.cookieValue, { mfa: true, user: promoted });
    expect(cookieValue).not.toBe(s.cookieValue);
    expect(await b.resolve(s.cookieValue)).toBeNull();
    const now = await b.resolve(cookieValue);
    expect(now?.principal).toMatchObject({ sessionId: s.sessionId, mfa: true, roles: ['operator', 'auditor'] });
    // The CSRF token read under the old privileges does not carry over to the new ones.
    expect(csrfToken).not.toBe(s.csrfToken);
    expect(now?.csrfToken).toBe(csrfToken);
    await expect(a.rotate(s.cookieValue)).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await events('session.rotated'))[0]).toMatchObject({ targetId: s.sessionId, details: { mfa: true, mfaChanged: true } });
    const trail = JSON.stringify(await events());
    for (const secret of [cookieValue, csrfToken, s.csrfToken]) expect(trail).not.toContain(secret);
  });

  it('refreshes the snapshot of live sessions and asks for a rotation at their next request', async () => {
    const { a, b, user } = await open();
    const s = await a.create({ user, mfa: true, method: 'password', context });
    await a.refreshUser({ ...user, roles: [], groups: [{ id: '00000000-0000-4000-8000-0000000000a1', name: 'tellers' }] });
    const seen = await b.resolve(s.cookieValue);
    expect(seen?.principal.roles).toEqual([]);
    expect(seen?.principal.groups.map((g) => g.name)).toEqual(['tellers']);
    expect(seen?.rotate).toBe(true);
    const { cookieValue } = await b.rotate(s.cookieValue);
    expect((await a.resolve(cookieValue))?.rotate).toBe(false);
  });

  it('tells the current principal of a live session by its id (refreshed snapshot, across a rotation), null once it has ended, and never writes', async () => {
    const { a, b, clock, user, audit, backend, events } = await open();
    // A third node whose store writes are counted: current() must make none (no touch, no rotation, no end).
    const writes: string[] = [];
    const own = backend.store();
    const counted = new Proxy(own, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key);
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (['insert', 'update', 'remove', 'move', 'sweep'].includes(String(key))) writes.push(String(key));
          return fn.apply(target, args);
        };
      },
    });
    const c = createWebSessions({ store: counted, trail: audit.trail, clock, ids: randomIds, idleMs: IDLE, absoluteMs: ABSOLUTE, sweepIntervalMs: 0 });
    fresh.defer(() => c.close());
    const s = await a.create({ user, mfa: true, method: 'password', context });
    const lastSeen = async () => (await own.findBySessionId(s.sessionId))?.record.lastSeenAt;
    const createdSeen = await lastSeen();

    expect(await c.current(s.sessionId)).toMatchObject({ kind: 'user', id: user.id, roles: ['operator'], groups: [], via: 'session', mfa: true, sessionId: s.sessionId });
    const tellers = { id: '00000000-0000-4000-8000-0000000000a1', name: 'tellers' };
    await b.refreshUser({ ...user, roles: [], groups: [tellers] });
    expect(await c.current(s.sessionId)).toMatchObject({ roles: [], groups: [tellers], sessionId: s.sessionId });
    // Rotation moves the session to a new key; it is the same session.
    const rotated = await b.rotate(s.cookieValue);
    expect(await c.current(s.sessionId)).toMatchObject({ id: user.id, groups: [tellers], sessionId: s.sessionId });
    expect(await c.current('00000000-0000-4000-8000-000000000000')).toBeNull();
    expect(await c.current("' OR 1=1 --")).toBeNull();

    // Asked for well past the touch interval, it keeps last-seen where it was: it alone does not keep a session alive.
    clock.advance(IDLE - MINUTE);
    expect(await c.current(s.sessionId)).not.toBeNull();
    expect(await lastSeen()).toBe(createdSeen);
    clock.advance(2 * MINUTE);
    expect(await c.current(s.sessionId)).toBeNull();
    expect(writes).toEqual([]);
    // The idle end is left for resolve() or the sweep to record, once.
    expect(await events('session.ended')).toEqual([]);
    expect(await a.resolve(rotated.cookieValue)).toBeNull();

    const revoked = await a.create({ user, mfa: false, method: 'password', context });
    const everywhere = await a.create({ user, mfa: false, method: 'password', context });
    expect(await c.current(revoked.sessionId)).toMatchObject({ sessionId: revoked.sessionId });
    expect(await c.current(everywhere.sessionId)).toMatchObject({ sessionId: everywhere.sessionId });
    expect(await b.revoke(revoked.sessionId, ADMIN, 'admin')).toBe(true);
    expect(await c.current(revoked.sessionId)).toBeNull();
    expect(await c.current(everywhere.sessionId)).not.toBeNull();
    expect(await b.revokeAllForUser(user.id, null, 'logout_all')).toBe(1);
    expect(await c.current(everywhere.sessionId)).toBeNull();
    expect(writes).toEqual([]);
  });

  it('keeps a session alive through current() only when asked as activity (someone working in the live view), one touch per interval', async () => {
    const { a, clock, user } = await open();
    const s = await a.create({ user, mfa: true, method: 'password', context });
    const idle = await a.create({ user, mfa: true, method: 'password', context });
    // Three stretches of most of the idle timeout, each ended by activity through current(): still alive, unlike a session asked about passively.
    for (let i = 0; i < 3; i++) {
      clock.advance(IDLE - MINUTE);
      expect(await a.current(s.sessionId, { active: true }), `stretch ${i + 1}`).toMatchObject({ sessionId: s.sessionId });
      expect(await a.current(idle.sessionId)).toEqual(i === 0 ? expect.objectContaining({ sessionId: idle.sessionId }) : null);
    }
    expect(await a.resolve(s.cookieValue)).not.toBeNull();
    // A touch is not due again within its interval: asked twice at once, the session is written once and stays the same.
    const [one, two] = await Promise.all([a.current(s.sessionId, { active: true }), a.current(s.sessionId, { active: true })]);
    expect(one).toEqual(two);
    // Ended sessions stay ended: activity through current() does not revive them.
    expect(await a.current(idle.sessionId, { active: true })).toBeNull();
  });

  it('revokes one session: by its owner (session.ended) or by someone else (session.revoked); unknown ids are false', async () => {
    const { a, b, user, events } = await open();
    const mine = await a.create({ user, mfa: false, method: 'password', context });
    const other = await a.create({ user, mfa: false, method: 'password', context });
    const owner: Principal = { kind: 'user', id: user.id, name: user.name, roles: user.roles, groups: [], via: 'session', mfa: false, sessionId: mine.sessionId };
    expect(await b.revoke(mine.sessionId, owner, 'logout')).toBe(true);
    expect(await a.revoke(mine.sessionId, owner, 'logout')).toBe(false);
    expect(await a.resolve(mine.cookieValue)).toBeNull();
    expect(await a.revoke(other.sessionId, ADMIN, 'admin')).toBe(true);
    expect(await b.resolve(other.cookieValue)).toBeNull();
    expect(await a.revoke('00000000-0000-4000-8000-000000000000', ADMIN, 'admin')).toBe(false);
    expect(await a.revoke("' OR 1=1 --", ADMIN, 'admin')).toBe(false);
    const log = await events();
    expect(log.filter((e) => e.action !== 'session.created').map((e) => [e.action, e.targetId, e.details.reason, e.actorId])).toEqual([
      ['session.ended', mine.sessionId, 'logout', user.id],
      ['session.revoked', other.sessionId, 'admin', ADMIN.id],
    ]);
  });

  it('revokes every session of a user at once on every node, and only theirs', async () => {
    const { a, b, user, events } = await open();
    const other = await insertSessionUser(fresh.db.database.db);
    const theirs = await Promise.all([1, 2, 3].map(() => a.create({ user, mfa: false, method: 'password', context })));
    const bystander = await b.create({ user: other, mfa: false, method: 'oidc', oidc: { idTokenHint: 'hint', sid: 'sid-1' }, context });
    // One of them rotates on the other node first: its new value must end too.
    const rotated = await b.rotate(theirs[0]!.cookieValue);
    expect(await b.revokeAllForUser(user.id, null, 'user_disabled')).toBe(3);
    for (const value of [rotated.cookieValue, ...theirs.map((s) => s.cookieValue)]) {
      expect(await a.resolve(value)).toBeNull();
      expect(await b.resolve(value)).toBeNull();
    }
    expect(await a.listForUser(user.id)).toEqual([]);
    expect(await a.resolve(bystander.cookieValue)).not.toBeNull();
    expect(await a.oidcOf(bystander.sessionId)).toEqual({ idTokenHint: 'hint', sid: 'sid-1' });
    const revoked = await events('session.revoked');
    expect(revoked).toHaveLength(3);
    expect(revoked.every((e) => e.actorKind === 'system' && e.details.reason === 'user_disabled')).toBe(true);
    expect(await a.revokeAllForUser(user.id, null, 'again')).toBe(0);
    expect(await a.revokeAllForUser('not-a-uuid', null, 'x')).toBe(0);
  });

  it('leaves no session alive when a rotation on one node races "log out everywhere" on the other', async () => {
    const { a, b, user } = await open();
    for (let round = 0; round < 15; round += 1) {
      const s = await a.create({ user, mfa: false, method: 'password', context });
      const [rotated] = await Promise.all([a.rotate(s.cookieValue).catch(() => null), b.revokeAllForUser(user.id, null, 'race')]);
      for (const value of [s.cookieValue, rotated?.cookieValue].filter((v): v is string => v !== undefined)) {
        expect(await a.resolve(value), `round ${round}`).toBeNull();
      }
      expect(await b.listForUser(user.id)).toEqual([]);
    }
  });

  it('lists a user\'s live sessions without secrets', async () => {
    const { a, clock, user } = await open();
    const first = await a.create({ user, mfa: true, method: 'password', context });
    clock.advance(MINUTE);
    const second = await a.create({ user, mfa: false, method: 'oidc', context: {} });
    const list = await a.listForUser(user.id);
    expect(list.map((s) => s.sessionId)).toEqual([first.sessionId, second.sessionId]);
    expect(list[0]).toMatchObject({ method: 'password', mfa: true, sourceIp: context.sourceIp });
    expect(list[1]).toMatchObject({ method: 'oidc', mfa: false, sourceIp: null });
    const text = JSON.stringify(list);
    for (const s of [first, second]) {
      expect(text).not.toContain(s.cookieValue);
      expect(text).not.toContain(s.csrfToken);
    }
    clock.advance(IDLE);
    expect(await a.listForUser(user.id)).toEqual([]);
  });

  it('cleans up expired records and records each end once, whichever node sweeps', async () => {
    const { a, b, clock, user, events, backend } = await open();
    const s = await a.create({ user, mfa: false, method: 'password', context });
    const kept = await a.create({ user, mfa: false, method: 'password', context });
    clock.advance(IDLE - MINUTE);
    await a.resolve(kept.cookieValue);
    clock.advance(2 * MINUTE);
    const swept = await Promise.all([a.sweep(), b.sweep()]);
    expect(swept.reduce((x, y) => x + y, 0)).toBe(backend.sweeps ? 1 : 0);
    expect(await a.resolve(s.cookieValue)).toBeNull();
    expect(await a.resolve(kept.cookieValue)).not.toBeNull();
    // Recorded by the sweep (database) or by the request that found it expired (Redis); in-process state forgets silently.
    const ended = await events('session.ended');
    expect(ended.length).toBeLessThanOrEqual(1);
    for (const e of ended) expect(e).toMatchObject({ targetId: s.sessionId, details: { reason: 'idle_timeout' } });
  });

  it('refuses a user snapshot without a proper id', async () => {
    const { a, user } = await open();
    await expect(a.create({ user: { ...user, id: 'nope' }, mfa: false, method: 'password', context })).rejects.toThrow(TypeError);
  });
}


/**
 * A timeout is recorded once by whichever node notices it. A backend that
 * drops expired records by itself (in-process state, Redis once its TTL has
 * passed) may leave nothing to notice; the database always keeps them until swept.
 */
function expectEndedOnce(ended: Array<Record<string, unknown>>, backend: SessionBackend, shape: Record<string, unknown>): void {
  if (backend.sweeps) expect(ended).toHaveLength(1);
  else expect(ended.length).toBeLessThanOrEqual(1);
  for (const e of ended) expect(e).toMatchObject(shape);
}
