import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createMemoryState, createRedisState, type SharedState } from '../../src/cluster/index.js';
import { randomIds } from '../../src/core/index.js';
import { createCachedSessionStore, createDatabaseSessionStore, createWebSessions, type ResolvedSession, type SessionUser, type WebSessions } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';
import { insertSessionUser } from '../support/session-user.js';

// WebSessions.resolveCached hands out one frozen answer per cached record, and the ForwardAuth fast path keeps what
// it derives from it (header lines, the gate's answer per host) keyed by that object. Correct only if the object
// is never handed out again once the record changed: here two nodes (each its own cache, invalidations over the
// shared state: in-process, or Redis with TEST_REDIS_URL) check that every write ends it at once on the writing
// node and within a second on the other.

const TEST_REDIS_URL = process.env.TEST_REDIS_URL;
const context = { sourceIp: '198.51.100.7', userAgent: 'test' };

describe('cached session answers', () => {
  const fresh = useTestDatabase();

  async function open() {
    const clock = new ManualClock();
    const keyPrefix = `wa-test-${randomUUID()}:`;
    // One connection per node, as two servers would have.
    const states: SharedState[] = TEST_REDIS_URL
      ? await Promise.all([0, 1].map(() => createRedisState({ url: TEST_REDIS_URL, keyPrefix, connectTimeoutMs: 10_000 })))
      : [createMemoryState({ clock })];
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    const node = async (state: SharedState): Promise<WebSessions> => {
      const store = createCachedSessionStore({ store: createDatabaseSessionStore({ db: fresh.db.database.db }), state, clock });
      await store.ready;
      return createWebSessions({ store, trail: audit.trail, clock, ids: randomIds, sweepIntervalMs: 0 });
    };
    const a = await node(states[0]!);
    const b = await node(states.at(-1)!);
    fresh.defer(async () => {
      await a.close();
      await b.close();
      await audit.trail.close();
      for (const state of states) await state.close();
    });
    const user: SessionUser = { ...(await insertSessionUser(fresh.db.database.db)), groups: [{ id: randomUUID(), name: 'ops' }] };
    return { clock, a, b, user };
  }

  /** The node's cached answer once its cache holds the session (resolve reads it into the cache). */
  async function cachedOn(node: WebSessions, cookieValue: string): Promise<ResolvedSession> {
    expect(await node.resolve(cookieValue)).not.toBeNull();
    const answer = node.resolveCached(cookieValue);
    if (answer === null || answer === 'miss') throw new Error(`expected a cached answer, got ${String(answer)}`);
    return answer;
  }

  it('is one frozen object for as long as the cache holds the record, and a new one after it expired', async () => {
    const { clock, a, user } = await open();
    const { cookieValue } = await a.create({ user, mfa: true, method: 'password', context });
    const first = await cachedOn(a, cookieValue);
    expect(a.resolveCached(cookieValue)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.principal) && Object.isFrozen(first.principal.groups) && Object.isFrozen(first.principal.groups[0])).toBe(true);
    expect(Object.isFrozen(first.principal.roles)).toBe(true);
    expect(first.principal).toMatchObject({ id: user.id, groups: [{ name: 'ops' }], via: 'session', mfa: true });
    clock.advance(500);
    expect(a.resolveCached(cookieValue)).toBe('miss');
    const next = await cachedOn(a, cookieValue);
    expect(next).not.toBe(first);
    expect(next).toEqual(first);
  });

  const writes: Array<{ name: string; write: (a: WebSessions, s: { cookieValue: string; sessionId: string }, user: SessionUser) => Promise<unknown>; after: (r: ResolvedSession | null) => void }> = [
    { name: 'a revocation', write: (a, s) => a.revoke(s.sessionId, null, 'test'), after: (r) => expect(r).toBeNull() },
    { name: 'logout everywhere', write: (a, _s, user) => a.revokeAllForUser(user.id, null, 'test'), after: (r) => expect(r).toBeNull() },
    { name: 'a rotation (the old value)', write: (a, s) => a.rotate(s.cookieValue), after: (r) => expect(r).toBeNull() },
    {
      name: 'a membership change',
      write: (a, _s, user) => a.refreshUser({ ...user, groups: [{ id: randomUUID(), name: 'sales' }] }),
      after: (r) => {
        expect(r?.principal.groups.map((g) => g.name)).toEqual(['sales']);
        expect(r?.rotate).toBe(true);
      },
    },
  ];

  for (const { name, write, after } of writes) {
    it(`is never handed out again after ${name}: at once on the writing node, within a second on the other`, async () => {
      const { a, b, user } = await open();
      const session = await a.create({ user, mfa: true, method: 'password', context });
      const onA = await cachedOn(a, session.cookieValue);
      const onB = await cachedOn(b, session.cookieValue);
      await write(a, session, user);
      expect(a.resolveCached(session.cookieValue)).not.toBe(onA);
      await vi.waitFor(() => expect(b.resolveCached(session.cookieValue)).not.toBe(onB), { timeout: 1000, interval: 5 });
      for (const node of [a, b]) {
        const now = await node.resolve(session.cookieValue);
        after(now);
        const cached = node.resolveCached(session.cookieValue);
        if (now !== null) expect(cached).toEqual(now);
        else expect([null, 'miss']).toContain(cached);
      }
    });
  }
});
