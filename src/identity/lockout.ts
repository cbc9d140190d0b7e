import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { SharedState } from '../cluster/index.js';

/**
 * Per-account lockout on shared state (every node counts the same failures): after `threshold`
 * failed sign-ins within `lockoutMs`, the account is locked for `lockoutMs` from the last one.
 * Accounts are named by what was typed, known or not, so a lock behaves the same for an
 * account that does not exist.
 */
export interface Lockout {
  /** Milliseconds until the lock ends, or 0 when the account is not locked. */
  lockedFor(account: string): Promise<number>;
  /** Counts one failure; returns the count in the window and whether the account is now locked. */
  failed(account: string): Promise<{ failures: number; locked: boolean }>;
  /** A successful sign-in: the failures before it no longer count. */
  succeeded(account: string): Promise<void>;
  /** An administrator lifts the lock and forgets the failures; true when the account was locked. */
  unlock(account: string): Promise<boolean>;
}

export interface LockoutOptions {
  state: SharedState;
  clock: Clock;
  threshold: number;
  lockoutMs: number;
}

export function createLockout(options: LockoutOptions): Lockout {
  const { state, clock, threshold, lockoutMs } = options;
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new TypeError('createLockout: threshold must be a positive integer');
  if (!Number.isSafeInteger(lockoutMs) || lockoutMs < 1) throw new TypeError('createLockout: lockoutMs must be a positive integer');
  // Hashed: a typed account name is client data; the key has a fixed length and no name sits in Redis in the clear.
  const id = (account: string) => createHash('sha256').update(account, 'utf8').digest('base64url').slice(0, 32);
  const countKey = (account: string) => `lockout:count:${id(account)}`;
  const lockKey = (account: string) => `lockout:lock:${id(account)}`;

  const lockedFor = async (account: string) => {
    const lock = (await state.get(lockKey(account))) as { until?: unknown } | undefined;
    // The time is kept in the record, so the injected clock decides, not only the store's TTL.
    if (!lock || typeof lock.until !== 'number') return 0;
    return Math.max(0, lock.until - clock.now());
  };

  return {
    lockedFor,
    async failed(account) {
      const hit = await state.hit(countKey(account), lockoutMs, threshold);
      if (hit.count < threshold) return { failures: hit.count, locked: false };
      await state.set(lockKey(account), { until: clock.now() + lockoutMs }, lockoutMs);
      return { failures: hit.count, locked: true };
    },
    async succeeded(account) {
      await state.delete(countKey(account));
    },
    async unlock(account) {
      const wasLocked = (await lockedFor(account)) > 0;
      await state.delete(countKey(account));
      await state.delete(lockKey(account));
      return wasLocked;
    },
  };
}
