import type { SharedState } from '../cluster/index.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/**
 * Web sessions on shared state: Redis with REDIS_URL (every node reads the
 * same records; nothing is cached, so a revocation holds on every node at
 * once), or in-process. Three kinds of entries:
 * - `websession:<sha256 of cookie>`: the record, living until its idle or absolute end;
 * - `websession-id:<session id>`: which hash holds that session now (it moves at rotation);
 * - `websession-user:<user id>`: set of the user's hashes, for "log out everywhere".
 * Redis drops expired records by itself; the user set is pruned as it is read.
 */
export function createSharedStateSessionStore(deps: {
  state: SharedState;
  kind: 'redis' | 'memory';
  /** Lifetime of a user's set, from its last addition: at least the absolute session lifetime. */
  indexTtlMs: number;
  now: () => number;
}): SessionStore {
  const { state, indexTtlMs, now } = deps;
  if (typeof state?.replace !== 'function') throw new TypeError('createSharedStateSessionStore: a shared state is required');
  if (!Number.isSafeInteger(indexTtlMs) || indexTtlMs <= 0) throw new TypeError('createSharedStateSessionStore: indexTtlMs must be a positive integer');
  const recordKey = (idHash: string) => `websession:${idHash}`;
  const idKey = (sessionId: string) => `websession-id:${sessionId}`;
  const userKey = (userId: string) => `websession-user:${userId}`;
  const ttl = (until: number) => Math.max(1, until - now());
  const read = async (idHash: string): Promise<SessionRecord | null> => {
    const value = (await state.get(recordKey(idHash))) as SessionRecord | undefined;
    return value && typeof value.sessionId === 'string' ? value : null;
  };
  const index = async (idHash: string, record: SessionRecord): Promise<void> => {
    await state.addMember(userKey(record.userId), idHash, indexTtlMs);
    await state.set(idKey(record.sessionId), idHash, ttl(record.absoluteExpiresAt));
  };

  return {
    kind: deps.kind,

    async insert(idHash, record, expiresAt) {
      await state.set(recordKey(idHash), record, ttl(expiresAt));
      await index(idHash, record);
    },

    get: read,

    async update(idHash, record, expiresAt) {
      return state.replace(recordKey(idHash), record, ttl(expiresAt));
    },

    async remove(idHash) {
      const record = await read(idHash);
      if (!record || !(await state.delete(recordKey(idHash)))) return null;
      await state.removeMember(userKey(record.userId), idHash);
      if ((await state.get(idKey(record.sessionId))) === idHash) await state.delete(idKey(record.sessionId));
      return record;
    },

    async move(oldHash, newHash, record, expiresAt) {
      // The new entry is complete (record, user set, id pointer) before the old one goes, so a revocation
      // running meanwhile finds one or the other (web-sessions retries when the pointer moved under it).
      await state.set(recordKey(newHash), record, ttl(expiresAt));
      await index(newHash, record);
      if (await state.delete(recordKey(oldHash))) {
        await state.removeMember(userKey(record.userId), oldHash);
        return true;
      }
      // Revoked meanwhile: undo, so the revocation stands.
      await state.delete(recordKey(newHash));
      await state.removeMember(userKey(record.userId), newHash);
      if ((await state.get(idKey(record.sessionId))) === newHash) await state.delete(idKey(record.sessionId));
      return false;
    },

    async findBySessionId(sessionId) {
      const idHash = await state.get(idKey(sessionId));
      if (typeof idHash !== 'string') return null;
      const record = await read(idHash);
      return record ? { idHash, record } : null;
    },

    async listByUser(userId) {
      const out: Array<{ idHash: string; record: SessionRecord }> = [];
      for (const idHash of await state.members(userKey(userId))) {
        const record = await read(idHash);
        if (record) out.push({ idHash, record });
        else await state.removeMember(userKey(userId), idHash);
      }
      return out.sort((x, y) => x.record.createdAt - y.record.createdAt);
    },

    async sweep() {
      return [];
    },
  };
}
