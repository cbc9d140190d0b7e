import type { Clock } from '../core/index.js';
import type { SharedState } from '../cluster/index.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/**
 * A short-lived, per-node read cache in front of a session store, for the
 * request that asks for the same session many times a second: a reverse
 * proxy's ForwardAuth check (GET /authz) runs for every image and script of
 * every page, and a store read per check (a query on PGlite or PostgreSQL, a
 * round trip to Redis) is most of its cost.
 *
 * Revocation stays prompt on every node: every write through this store
 * (revoke, revoke-all, rotation, snapshot refresh, touch) drops the entry here
 * and publishes its key, and every node drops it on receipt. Should a message
 * be lost, an entry still lives at most `ttlMs`; 500 ms keeps "a revoked
 * session is refused within 1 s on every node" with room to spare. Until the
 * subscription is in place, and if it fails, nothing is cached.
 *
 * Cached records are shared, not copied: web-sessions treats records as
 * immutable (it builds a new object for each change).
 *
 * Concurrent misses of one key share one store read. When a busy session's
 * entry expires, every check arriving before the read returns would
 * otherwise read the store too: hundreds of identical queries at once,
 * enough to fill the ForwardAuth in-flight cap and shed checks every 500 ms
 * on a node that is not overloaded at all. A read is shared only while no
 * write has begun since it started (the same rule as for caching it).
 */
export interface CachedSessionStoreOptions {
  store: SessionStore;
  state: SharedState;
  clock: Clock;
  /** Longest life of an entry (ms); default 500. */
  ttlMs?: number;
  /** Most entries kept; the oldest go first. Default 10,000. */
  maxEntries?: number;
  onError?: (error: unknown) => void;
}

export const SESSION_INVALIDATION_CHANNEL = 'web-sessions:invalidate';

export function createCachedSessionStore(options: CachedSessionStoreOptions): SessionStore & { readonly ready: Promise<void> } {
  const { store, state, clock } = options;
  const ttlMs = options.ttlMs ?? 500;
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > 1000) throw new TypeError('cached session store: ttlMs must be 1..1000');
  const entries = new Map<string, { record: SessionRecord; at: number }>();
  const reads = new Map<string, { generation: number; record: Promise<SessionRecord | null> }>();
  let listening = false;
  // A write that began before a read finished must win: the read may carry the old record.
  let generation = 0;

  const dropLocal = (idHashes: string[]) => {
    generation += 1;
    for (const idHash of idHashes) entries.delete(idHash);
  };

  const ready = state
    .subscribe(SESSION_INVALIDATION_CHANNEL, (idHash) => dropLocal([idHash]))
    .then(() => {
      listening = true;
    })
    .catch((error: unknown) => options.onError?.(error));

  /** Drops the entries before the write (no read during it is cached) and after it, here and on every node. */
  const writing = async <T>(idHashes: string[], write: () => Promise<T>): Promise<T> => {
    dropLocal(idHashes);
    try {
      return await write();
    } finally {
      dropLocal(idHashes);
      for (const idHash of idHashes) {
        // Not fatal: the write is done, and other nodes' entries end within ttlMs anyway.
        await state.publish(SESSION_INVALIDATION_CHANNEL, idHash).catch((error: unknown) => options.onError?.(error));
      }
    }
  };

  return {
    kind: store.kind,
    ready,
    async insert(idHash, record, expiresAt) {
      await store.insert(idHash, record, expiresAt);
    },
    peek(idHash) {
      const hit = entries.get(idHash);
      return hit && clock.now() - hit.at < ttlMs ? hit.record : undefined;
    },
    async get(idHash) {
      const hit = entries.get(idHash);
      const now = clock.now();
      if (hit && now - hit.at < ttlMs) return hit.record;
      if (hit) entries.delete(idHash);
      const pending = reads.get(idHash);
      if (pending && pending.generation === generation) return pending.record;
      const before = generation;
      const read = store.get(idHash).then((record) => {
        if (record && listening && generation === before) {
          if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
          entries.set(idHash, { record, at: now });
        }
        return record;
      });
      const shared = { generation: before, record: read };
      reads.set(idHash, shared);
      const forget = () => {
        if (reads.get(idHash) === shared) reads.delete(idHash);
      };
      read.then(forget, forget);
      return read;
    },
    update: (idHash, record, expiresAt) => writing([idHash], () => store.update(idHash, record, expiresAt)),
    remove: (idHash) => writing([idHash], () => store.remove(idHash)),
    move: (oldHash, newHash, record, expiresAt) => writing([oldHash, newHash], () => store.move(oldHash, newHash, record, expiresAt)),
    findBySessionId: (sessionId) => store.findBySessionId(sessionId),
    listByUser: (userId) => store.listByUser(userId),
    async sweep(now) {
      const removed = await store.sweep(now);
      // Swept records are expired, which get() checks anyway; dropping them here only frees memory.
      if (removed.length > 0) entries.clear();
      return removed;
    },
  };
}
