import type { Clock } from '../core/index.js';
import {
  checkKey,
  checkMember,
  checkPositiveInteger,
  recordText,
  type HitResult,
  type SharedState,
} from './shared-state.js';

export interface MemoryStateOptions {
  clock: Clock;
  /** How often expired entries are swept out (default 60 s). Reads expire lazily in between. */
  sweepIntervalMs?: number;
  /** Called when a subscriber's handler throws; the other handlers still run. */
  onError?: (error: unknown) => void;
}

interface Counter {
  count: number;
  expiresAt: number;
}

interface Entry {
  /** JSON text: a copy, as Redis would hold, so a caller's later change to the object is not seen. */
  text: string;
  expiresAt: number;
}

/**
 * Shared state for one process (the embedded default): a Map with expiry and a
 * local emitter. "Every node" is this node, so it needs no coordination; each
 * operation is synchronous inside, hence atomic.
 */
export function createMemoryState(options: MemoryStateOptions): SharedState {
  const { clock } = options;
  if (typeof clock?.now !== 'function') throw new TypeError('createMemoryState: a clock is required');
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  checkPositiveInteger('sweepIntervalMs', sweepIntervalMs);
  const onError = options.onError ?? (() => undefined);

  // Apart, as in Redis's key spaces: a counter and a record of the same name never meet.
  const counters = new Map<string, Counter>();
  const records = new Map<string, Entry>();
  const sets = new Map<string, { members: Set<string>; expiresAt: number }>();
  const channels = new Map<string, Set<(message: string) => void>>();
  let closed = false;

  const live = <T extends { expiresAt: number }>(map: Map<string, T>, key: string): T | undefined => {
    const entry = map.get(key);
    if (entry && entry.expiresAt <= clock.now()) {
      map.delete(key);
      return undefined;
    }
    return entry;
  };
  const sweep = (): void => {
    const now = clock.now();
    for (const map of [counters, records, sets]) for (const [key, entry] of map) if (entry.expiresAt <= now) map.delete(key);
  };
  // Without the sweep, counters of IPs never seen again would stay forever; unref so it never keeps the process alive.
  const sweeper = setInterval(sweep, sweepIntervalMs);
  sweeper.unref();

  const open = (): void => {
    if (closed) throw new Error('shared state: closed');
  };

  return {
    async hit(key, windowMs, limit): Promise<HitResult> {
      open();
      checkKey(key);
      checkPositiveInteger('windowMs', windowMs);
      checkPositiveInteger('limit', limit);
      const now = clock.now();
      let counter = live(counters, key);
      if (!counter) counters.set(key, (counter = { count: 0, expiresAt: now + windowMs }));
      const count = (counter.count += 1);
      const allowed = count <= limit;
      return { allowed, count, retryAfterMs: allowed ? 0 : Math.max(1, counter.expiresAt - now) };
    },

    async unhit(key) {
      open();
      checkKey(key);
      const counter = live(counters, key);
      if (counter && counter.count > 0) counter.count -= 1;
    },

    async get(key) {
      open();
      checkKey(key);
      const entry = live(records, key);
      return entry === undefined ? undefined : (JSON.parse(entry.text) as unknown);
    },

    async set(key, value, ttlMs) {
      open();
      checkKey(key);
      checkPositiveInteger('ttlMs', ttlMs);
      records.set(key, { text: recordText(value), expiresAt: clock.now() + ttlMs });
    },

    async delete(key) {
      open();
      checkKey(key);
      const existed = live(records, key) !== undefined;
      records.delete(key);
      return existed;
    },

    async replace(key, value, ttlMs) {
      open();
      checkKey(key);
      checkPositiveInteger('ttlMs', ttlMs);
      const text = recordText(value);
      if (live(records, key) === undefined) return false;
      records.set(key, { text, expiresAt: clock.now() + ttlMs });
      return true;
    },

    async addMember(key, member, ttlMs) {
      open();
      checkKey(key);
      checkMember(member);
      checkPositiveInteger('ttlMs', ttlMs);
      const set = live(sets, key) ?? { members: new Set<string>(), expiresAt: 0 };
      set.members.add(member);
      set.expiresAt = clock.now() + ttlMs;
      sets.set(key, set);
    },

    async removeMember(key, member) {
      open();
      checkKey(key);
      checkMember(member);
      const set = live(sets, key);
      const removed = set?.members.delete(member) ?? false;
      if (set?.members.size === 0) sets.delete(key);
      return removed;
    },

    async members(key) {
      open();
      checkKey(key);
      return [...(live(sets, key)?.members ?? [])];
    },

    async publish(channel, message) {
      open();
      checkKey(channel);
      const handlers = channels.get(channel);
      if (!handlers) return;
      // Delivered later, as over a network: a handler never runs inside the publisher's call.
      for (const handler of [...handlers]) {
        queueMicrotask(() => {
          if (closed || !channels.get(channel)?.has(handler)) return;
          try {
            handler(message);
          } catch (error) {
            onError(error);
          }
        });
      }
    },

    async subscribe(channel, handler) {
      open();
      checkKey(channel);
      // A wrapper per call, so the same function subscribed twice is unsubscribed once at a time.
      const wrapped = (message: string): void => handler(message);
      let handlers = channels.get(channel);
      if (!handlers) channels.set(channel, (handlers = new Set()));
      handlers.add(wrapped);
      return async () => {
        const set = channels.get(channel);
        set?.delete(wrapped);
        if (set?.size === 0) channels.delete(channel);
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      counters.clear();
      records.clear();
      sets.clear();
      channels.clear();
    },
  };
}
