import { createHash, randomBytes } from 'node:crypto';
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
  /**
   * Takes one attempt from the account's allowance before a credential is checked, in one atomic
   * increment, so that parallel guesses cannot all pass a check made before any of them is
   * counted: at most `threshold` credentials are ever checked per window. Refused while locked or
   * once the window's allowance is taken (by failures or by attempts still in flight); a refused
   * attempt is given back at once, so it never counts. After an allowed attempt, call exactly one
   * of the reservation's `failed` or `release`, or {@link Lockout.succeeded} for a full sign-in.
   */
  reserve(account: string): Promise<Reservation>;
  /** A successful sign-in: the failures before it no longer count. */
  succeeded(account: string): Promise<void>;
  /** An administrator lifts the lock and forgets the failures; true when the account was locked. */
  unlock(account: string): Promise<boolean>;
}

/** One attempt taken from an account's allowance by {@link Lockout.reserve}. */
export interface Reservation {
  allowed: boolean;
  /** The count of the window with this attempt in it (failures, and attempts still in flight). */
  failures: number;
  /** The attempt failed (it is already counted): locks the account when it was the last one allowed. */
  failed(): Promise<{ failures: number; locked: boolean }>;
  /**
   * The attempt did not fail (a right password before its second factor): it is given back, one
   * atomic decrement of the same counter, and the failures before it still count. Unlike
   * {@link Lockout.succeeded}, nothing is forgotten: a password alone never clears second-factor failures.
   */
  release(): Promise<void>;
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
  const lockKey = (account: string) => `lockout:lock:${id(account)}`;
  // A counter of shared state cannot be deleted, only left to expire: forgetting the failures starts a new generation of
  // it. The generation record is given lockoutMs more at its counter's first hit, so it outlives the counter.
  const generationKey = (account: string) => `lockout:generation:${id(account)}`;
  // The counter of the current generation: its key, so that an attempt is given back to the counter that took it.
  const counterKey = async (account: string) => {
    const record = (await state.get(generationKey(account))) as { id?: unknown } | undefined;
    const generation = typeof record?.id === 'string' ? record.id : null;
    return { key: `lockout:count:${id(account)}:${generation ?? 'first'}`, generation };
  };
  const count = async (account: string) => {
    const { key, generation } = await counterKey(account);
    const hit = await state.hit(key, lockoutMs, threshold);
    if (hit.count === 1 && generation !== null) await state.replace(generationKey(account), { id: generation }, lockoutMs);
    return { ...hit, key };
  };
  const forgetFailures = (account: string) => state.set(generationKey(account), { id: randomBytes(9).toString('base64url') }, lockoutMs);
  // The lock alone holds the account from here; the failures that led to it are forgotten, so that when it ends (by the
  // injected clock, which the lock's record follows) the account starts a new window rather than meeting a counter that a
  // store's own expiry (Redis keeps real time) still holds at the threshold.
  const lock = async (account: string) => {
    await state.set(lockKey(account), { until: clock.now() + lockoutMs }, lockoutMs);
    await forgetFailures(account);
  };

  const lockedFor = async (account: string) => {
    const record = (await state.get(lockKey(account))) as { until?: unknown } | undefined;
    // The time is kept in the record, so the injected clock decides, not only the store's TTL.
    if (!record || typeof record.until !== 'number') return 0;
    return Math.max(0, record.until - clock.now());
  };

  return {
    lockedFor,
    async failed(account) {
      const hit = await count(account);
      if (hit.count < threshold) return { failures: hit.count, locked: false };
      await lock(account);
      return { failures: hit.count, locked: true };
    },
    async reserve(account) {
      const none = { failed: () => Promise.resolve({ failures: threshold, locked: true }), release: () => Promise.resolve() };
      if ((await lockedFor(account)) > 0) return { allowed: false, failures: threshold, ...none };
      const hit = await count(account);
      // Asked again after counting: a lock set meanwhile forgets the failures (a new counter), and this attempt may have
      // been counted on the new one; the lock is written before the failures are forgotten, so it is seen here.
      if (!hit.allowed || (await lockedFor(account)) > 0) {
        // Nothing is checked for it: given back, so that the count stays failures plus attempts in flight.
        await state.unhit(hit.key);
        return { allowed: false, failures: threshold, ...none };
      }
      let settled = false;
      const settle = () => {
        if (settled) throw new Error('lockout: a reservation is settled once');
        settled = true;
      };
      return {
        allowed: true,
        failures: hit.count,
        async failed() {
          settle();
          if (hit.count < threshold) return { failures: hit.count, locked: false };
          await lock(account);
          return { failures: hit.count, locked: true };
        },
        async release() {
          settle();
          await state.unhit(hit.key);
        },
      };
    },
    async succeeded(account) {
      await forgetFailures(account);
    },
    async unlock(account) {
      const wasLocked = (await lockedFor(account)) > 0;
      await forgetFailures(account);
      await state.delete(lockKey(account));
      return wasLocked;
    },
  };
}
