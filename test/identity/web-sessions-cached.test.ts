import { describe, expect, it, vi } from 'vitest';
import { createMemoryState } from '../../src/cluster/index.js';
import { createCachedSessionStore, createDatabaseSessionStore, type SessionRecord, type SessionStore } from '../../src/identity/index.js';
import { ManualClock } from '../support/manual-clock.js';
import { useTestDatabase } from '../support/databases.js';
import { webSessionsSuite } from './web-sessions.suite.js';

// The compliance suite of web sessions with the per-node read cache in front of the database store,
// each "node" with its own cache, invalidations carried by one shared state (as Redis would).
describe('web sessions in the database behind the per-node read cache', () => {
  const fresh = useTestDatabase();
  webSessionsSuite(fresh, async (clock) => {
    const state = createMemoryState({ clock });
    const caches: Array<Promise<void>> = [];
    return {
      sweeps: true,
      store: () => {
        const store = createCachedSessionStore({ store: createDatabaseSessionStore({ db: fresh.db.database.db }), state, clock });
        caches.push(store.ready);
        return store;
      },
      teardown: async () => {
        await Promise.all(caches);
        await state.close();
      },
    };
  });
});

describe('the per-node session read cache', () => {
  const record = (id: string) =>
    ({
      sessionId: id,
      userId: '00000000-0000-4000-8000-000000000001',
      user: { id: '00000000-0000-4000-8000-000000000001', username: 'u', name: 'U', email: null, kind: 'person', roles: [], groups: [] },
      mfa: false,
      method: 'password',
      csrfToken: 'x',
      createdAt: 0,
      lastSeenAt: 0,
      absoluteExpiresAt: 1e15,
      sourceIp: null,
      userAgent: null,
    }) as SessionRecord;

  /** The one copy every node reads (a stand-in for the database), counting its reads; `gate` holds reads until opened. */
  function backend() {
    const rows = new Map<string, SessionRecord>();
    let reads = 0;
    let gate: Promise<void> = Promise.resolve();
    const store: SessionStore = {
      kind: 'memory',
      insert: async (h, r) => void rows.set(h, r),
      get: async (h) => {
        reads += 1;
        // The row as it was when the read began, answered when the gate opens (a query in flight).
        const row = rows.get(h) ?? null;
        await gate;
        return row;
      },
      update: async (h, r) => rows.has(h) && rows.set(h, r) !== undefined,
      remove: async (h) => {
        const r = rows.get(h) ?? null;
        rows.delete(h);
        return r;
      },
      move: async () => false,
      findBySessionId: async () => null,
      listByUser: async () => [],
      sweep: async () => [],
    };
    return {
      store,
      reads: () => reads,
      /** Reads wait until the returned function is called. */
      hold: () => {
        let open!: () => void;
        gate = new Promise((resolve) => (open = resolve));
        return () => {
          gate = Promise.resolve();
          open();
        };
      },
    };
  }

  it('lets concurrent misses of one session share one store read', async () => {
    const clock = new ManualClock();
    const state = createMemoryState({ clock });
    const shared = backend();
    const cache = createCachedSessionStore({ store: shared.store, state, clock });
    await cache.ready;
    await shared.store.insert('h3', record('s3'), 0);
    const release = shared.hold();
    const answers = Promise.all(Array.from({ length: 100 }, () => cache.get('h3')));
    release();
    expect((await answers).every((r) => r?.sessionId === 's3')).toBe(true);
    expect(shared.reads()).toBe(1);
    await state.close();
  });

  it('does not hand a read that began before a write to a caller who came after it', async () => {
    const clock = new ManualClock();
    const state = createMemoryState({ clock });
    const shared = backend();
    const cache = createCachedSessionStore({ store: shared.store, state, clock });
    await cache.ready;
    await shared.store.insert('h4', record('s4'), 0);
    const release = shared.hold();
    const early = cache.get('h4');
    const removal = cache.remove('h4'); // a revocation starts while the first read is in flight
    const late = cache.get('h4');
    release();
    await removal;
    expect(await late).toBeNull();
    expect((await early)?.sessionId).toBe('s4');
    expect(await cache.get('h4')).toBeNull();
    await state.close();
  });

  it('serves repeated reads from memory, and drops an entry on every node when it is revoked', async () => {
    const clock = new ManualClock();
    const state = createMemoryState({ clock });
    const shared = backend();
    const a = createCachedSessionStore({ store: shared.store, state, clock });
    const b = createCachedSessionStore({ store: shared.store, state, clock });
    await Promise.all([a.ready, b.ready]);
    await a.insert('h1', record('s1'), 0);
    expect(await b.get('h1')).not.toBeNull();
    expect(await b.get('h1')).not.toBeNull();
    expect(shared.reads()).toBe(1);
    expect(await a.remove('h1')).not.toBeNull();
    // Delivered over the shared state, as Redis would; well within a second.
    await vi.waitFor(async () => expect(await b.get('h1')).toBeNull(), { timeout: 1000, interval: 5 });
    await state.close();
  });

  it('keeps an entry no longer than its lifetime, even when no invalidation arrives', async () => {
    const clock = new ManualClock();
    const state = createMemoryState({ clock });
    const shared = backend();
    const cache = createCachedSessionStore({ store: shared.store, state, clock, ttlMs: 500 });
    await cache.ready;
    await shared.store.insert('h2', record('s2'), 0);
    await cache.get('h2');
    await shared.store.remove('h2'); // behind the cache's back, as if the message were lost
    expect(await cache.get('h2')).not.toBeNull();
    clock.advance(500);
    expect(await cache.get('h2')).toBeNull();
    await state.close();
  });
});
